/**
 * A real Jaeger v2 and a real VictoriaLogs for integration tests, on free loopback ports with their
 * data in temp dirs (scripts/observability.ts starts them). Without the binaries a test fails with
 * the message naming how to build them, as for nats-server.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  findJaeger,
  findVictoriaLogs,
  JAEGER_INSTALL_HINT,
  startJaeger,
  startVictoriaLogs,
  VICTORIA_LOGS_INSTALL_HINT,
  type JaegerProcess,
  type VictoriaLogsProcess,
} from "../../scripts/observability.ts";

/** Jaeger (in-memory storage, OTLP/HTTP receiver, query API) on free loopback ports. */
export async function startTestJaeger(): Promise<JaegerProcess> {
  const binary = findJaeger();
  if (!binary) throw new Error(`Cannot start a test Jaeger: ${JAEGER_INSTALL_HINT}`);
  return startJaeger({ binary });
}

/** VictoriaLogs on a free loopback port (or `port`), data in a temp dir removed by stop(). */
export async function startTestVictoriaLogs(opts: { port?: number } = {}): Promise<VictoriaLogsProcess> {
  const binary = findVictoriaLogs();
  if (!binary) throw new Error(`Cannot start a test VictoriaLogs: ${VICTORIA_LOGS_INSTALL_HINT}`);
  const dataDir = mkdtempSync(join(tmpdir(), "orderstream-vlogs-"));
  try {
    const proc = await startVictoriaLogs({ binary, dataDir, port: opts.port });
    return {
      ...proc,
      async stop() {
        await proc.stop();
        rmSync(dataDir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
}
