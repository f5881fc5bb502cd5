// Deno entry of the order service: `deno task order` (or `deno run -A services/order/main.deno.ts`).
import { runServiceOnDeno } from "../../host/runtime/deno.ts";
import { orderService } from "./service.ts";

await runServiceOnDeno(orderService);
