// Node entry of the payment service: `node --import tsx services/payment/main.ts` (or `npm run service -- payment`).
import { runServiceOnNode } from "../../host/runtime/node.ts";
import { paymentService } from "./service.ts";

await runServiceOnNode(paymentService);
