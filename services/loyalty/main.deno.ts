// Deno entry of the loyalty service: `deno run -A services/loyalty/main.deno.ts`.
import { runServiceOnDeno } from "../../host/runtime/deno.ts";
import { loyaltyService } from "./service.ts";

await runServiceOnDeno(loyaltyService);
