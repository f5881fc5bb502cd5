/**
 * What `npm start` tells the CLI about the Jaeger and VictoriaLogs it started: their addresses, in
 * `.data/observability.json` (git-ignored), written at start and removed at stop, so that
 * `npm run cli -- trace|logs` finds them even when the default ports were taken and it had to pick
 * others. Read only while the `npm start` that wrote it is still running.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { DATA_DIR } from "./data-dir.ts";

export const LOCAL_OBSERVABILITY_FILE = join(DATA_DIR, "observability.json");

export interface LocalObservability {
  /** The `npm start` process that runs them. */
  pid: number;
  jaegerQueryUrl?: string;
  otlpUrl?: string;
  victoriaLogsUrl?: string;
}

export function writeLocalObservability(local: LocalObservability): void {
  mkdirSync(dirname(LOCAL_OBSERVABILITY_FILE), { recursive: true });
  writeFileSync(LOCAL_OBSERVABILITY_FILE, JSON.stringify(local, null, 2));
}

export function removeLocalObservability(): void {
  rmSync(LOCAL_OBSERVABILITY_FILE, { force: true });
}

/** The addresses of a running `npm start`'s Jaeger and VictoriaLogs, or null. */
export function readLocalObservability(): LocalObservability | null {
  if (!existsSync(LOCAL_OBSERVABILITY_FILE)) return null;
  try {
    const local = JSON.parse(readFileSync(LOCAL_OBSERVABILITY_FILE, "utf8")) as LocalObservability;
    process.kill(local.pid, 0); // throws when that npm start is gone: the addresses are stale
    return local;
  } catch {
    return null;
  }
}
