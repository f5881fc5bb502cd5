// Deno entry of the payment service: `deno task payment` (or `deno run -A services/payment/main.deno.ts`).
import { runServiceOnDeno } from "../../shared/runtime/deno.ts";

await runServiceOnDeno("payment");
