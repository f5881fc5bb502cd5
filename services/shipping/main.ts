// Node entry of the shipping service: `node --import tsx services/shipping/main.ts` (or `npm run service -- shipping`).
import { runServiceOnNode } from "../../host/runtime/node.ts";
import { shippingService } from "./service.ts";

await runServiceOnNode(shippingService);
