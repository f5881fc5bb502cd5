// Node entry of the notification service: `node --import tsx services/notification/main.ts` (or `npm run service -- notification`).
import { runServiceOnNode } from "../../host/runtime/node.ts";
import { notificationService } from "./service.ts";

await runServiceOnNode(notificationService);
