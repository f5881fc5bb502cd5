// Deno entry of the notification service: `deno task notification` (or `deno run -A services/notification/main.deno.ts`).
import { runServiceOnDeno } from "../../host/runtime/deno.ts";
import { notificationService } from "./service.ts";

await runServiceOnDeno(notificationService);
