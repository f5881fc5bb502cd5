/**
 * Once per `npm test` (the integration project), before any spec: the servers the specs run —
 * nats-server, natscli, Jaeger, VictoriaLogs — found, or built with Go when missing
 * (scripts/tools.ts), so that no spec builds one itself and a newcomer's `npm ci && npm test` needs
 * only Node and Go. Vitest's global setup has no timeout, so a build on a cold Go cache (minutes)
 * cannot time a hook out. What cannot be had is a warning here; the specs that need it then fail
 * with a message naming how to install it.
 */
import { ensureTool, ToolMissingError, type ToolName } from "../../scripts/tools.ts";

export async function setup(): Promise<void> {
  for (const tool of ["nats-server", "natscli", "jaeger", "victoria-logs"] satisfies ToolName[]) {
    try {
      await ensureTool(tool, { log: (line) => console.log(`[global setup] ${line}`) });
    } catch (err) {
      if (!(err instanceof ToolMissingError)) throw err;
      console.warn(`[global setup] ${err.message}`);
    }
  }
}
