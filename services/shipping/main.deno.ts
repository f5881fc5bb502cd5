// Deno entry of the shipping service: `deno task shipping` (or `deno run -A services/shipping/main.deno.ts`).
import { runServiceOnDeno } from "../../shared/runtime/deno.ts";

await runServiceOnDeno("shipping");
