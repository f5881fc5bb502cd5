// Deno entry of the order service: `deno task order` (or `deno run -A services/order/main.deno.ts`).
import { runServiceOnDeno } from "../../shared/runtime/deno.ts";

await runServiceOnDeno("order");
