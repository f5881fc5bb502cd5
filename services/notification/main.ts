// Node entry of the notification service: `node --import tsx services/notification/main.ts` (or `npm run service -- notification`).
import { runServiceOnNode } from "../../shared/runtime/node.ts";

await runServiceOnNode("notification");
