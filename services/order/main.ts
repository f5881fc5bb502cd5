// Node entry of the order service: `node --import tsx services/order/main.ts` (or `npm run service -- order`).
import { runServiceOnNode } from "../../shared/runtime/node.ts";

await runServiceOnNode("order");
