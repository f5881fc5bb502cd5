// `npm run service -- <name>`: runs one service against NATS_URL.
import { isServiceName, SERVICES } from "../nats/subjects.ts";
import { runServiceOnNode } from "../host/runtime/node.ts";
import { serviceDefinitions } from "../services/registry.ts";

const name = process.argv[2] ?? "";
if (!isServiceName(name)) {
  console.error(`usage: npm run service -- <${SERVICES.join("|")}>${name ? ` (got "${name}")` : ""}`);
  process.exit(1);
}
await runServiceOnNode(serviceDefinitions[name]);
