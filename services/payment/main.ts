// Node entry of the payment service: `node --import tsx services/payment/main.ts` (or `npm run service -- payment`).
import { runServiceOnNode } from "../../shared/runtime/node.ts";

await runServiceOnNode("payment");
