// Deno entry of the notification service: `deno task notification` (or `deno run -A services/notification/main.deno.ts`).
import { runServiceOnDeno } from "../../shared/runtime/deno.ts";

await runServiceOnDeno("notification");
