// Node entry of the shipping service: `node --import tsx services/shipping/main.ts` (or `npm run service -- shipping`).
import { runServiceOnNode } from "../../shared/runtime/node.ts";

await runServiceOnNode("shipping");
