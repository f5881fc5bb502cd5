// Deno entry of the shipping service: `deno task shipping` (or `deno run -A services/shipping/main.deno.ts`).
import { runServiceOnDeno } from "../../host/runtime/deno.ts";
import { shippingService } from "./service.ts";

await runServiceOnDeno(shippingService);
