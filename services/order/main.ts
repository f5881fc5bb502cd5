// Node entry of the order service: `node --import tsx services/order/main.ts` (or `npm run service -- order`).
import { runServiceOnNode } from "../../host/runtime/node.ts";
import { orderService } from "./service.ts";

await runServiceOnNode(orderService);
