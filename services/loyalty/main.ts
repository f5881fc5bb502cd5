// Node entry of the loyalty service: `node --import tsx services/loyalty/main.ts` (or `npm run service -- loyalty`).
import { runServiceOnNode } from "../../host/runtime/node.ts";
import { loyaltyService } from "./service.ts";

await runServiceOnNode(loyaltyService);
