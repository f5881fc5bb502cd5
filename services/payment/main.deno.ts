// Deno entry of the payment service: `deno task payment` (or `deno run -A services/payment/main.deno.ts`).
import { runServiceOnDeno } from "../../host/runtime/deno.ts";
import { paymentService } from "./service.ts";

await runServiceOnDeno(paymentService);
