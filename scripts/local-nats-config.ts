/**
 * The config file `npm start` runs its nats-server with (`.data/nats/server.conf`): the auth config
 * (nats/auth) included when auth is on, and how often JetStream fsyncs its file store.
 *
 * nats-server's own default is an fsync every 2 minutes (`defaultSyncInterval` in its
 * server/filestore.go): a PubAck, and so a 201, then means the event is in the page cache — it
 * survives the server process crashing, not the machine losing power. npm start defaults to
 * `always` (an fsync before every PubAck): on one machine there is no replica to hold the event
 * instead, and the cost measured by `npm run bench -- --sync` is in BENCHMARKS.md ("Durability on
 * one server"). NATS_SYNC_INTERVAL overrides it; docs/operations.md ("Durability") has the trade-off.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { DATA_DIR } from "./data-dir.ts";

export const LOCAL_NATS_CONFIG_FILE = join(DATA_DIR, "nats", "server.conf");

/** npm start's fsync setting when NATS_SYNC_INTERVAL is not set. */
export const DEFAULT_SYNC_INTERVAL = "always";

/** `always`, or a duration nats-server reads (Go's time.ParseDuration): 100ms, 1s, 2m, 1m30s. */
export type SyncInterval = string;

/** Thrown for a NATS_SYNC_INTERVAL that nats-server would refuse or read as "no interval". */
export class SyncIntervalError extends Error {
  constructor(value: string, why: string) {
    super(
      `NATS_SYNC_INTERVAL=${value} ${why}: give "always" (fsync before every acknowledgement) or a duration such as 100ms, 1s or 2m ` +
        `(fsync at most that long after a write; 2m is nats-server's own default); unset it for npm start's default (${DEFAULT_SYNC_INTERVAL}).`,
    );
    this.name = "SyncIntervalError";
  }
}

// Go's time.ParseDuration units; a sign is refused below, so only positive durations pass.
const UNIT_NS: Record<string, number> = { ns: 1, us: 1e3, µs: 1e3, μs: 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };
const DURATION = /^(?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|μs|ms|s|m|h)(?:(?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))*$/;
const PART = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/g;

/** Nanoseconds of a Go duration string already matched by DURATION. */
function durationNs(text: string): number {
  let ns = 0;
  for (const [, amount, unit] of text.matchAll(PART)) ns += Number(amount) * UNIT_NS[unit!]!;
  return ns;
}

/** Shorter is `always` in all but name, run from a timer (and 0 is no interval at all): refused with a pointer to `always`. */
const MIN_INTERVAL_NS = 1e6;

/**
 * npm start's sync setting: NATS_SYNC_INTERVAL when set (checked here, so a typo stops npm start
 * with this message rather than nats-server with a parse error), else {@link DEFAULT_SYNC_INTERVAL}.
 * @example syncIntervalFrom({ NATS_SYNC_INTERVAL: "1s" }) // "1s"
 */
export function syncIntervalFrom(env: Record<string, string | undefined>): SyncInterval {
  const raw = env.NATS_SYNC_INTERVAL?.trim();
  if (!raw) return DEFAULT_SYNC_INTERVAL;
  if (raw.toLowerCase() === "always") return "always";
  if (!DURATION.test(raw)) {
    const hint = /^\d+(\.\d+)?$/.test(raw)
      ? " has no unit (nats-server would read a bare number as seconds, with a warning)"
      : " is not a duration";
    throw new SyncIntervalError(raw, hint.trim());
  }
  if (durationNs(raw) < MIN_INTERVAL_NS) throw new SyncIntervalError(raw, "is shorter than 1ms (use always instead)");
  return raw as SyncInterval;
}

/** Options of {@link localNatsConfig}. */
export interface LocalNatsConfig {
  syncInterval: SyncInterval;
  /** A config file to include first (the auth config), as a path relative to the written file's folder. */
  include?: string;
}

/**
 * The text of npm start's server config. Listen address, port and store dir stay on the command
 * line (-a, -p, -sd). The jetstream block comes after the include, so it replaces the auth config's
 * `jetstream: enabled` (nats-server keeps the last value of a key).
 * @example localNatsConfig({ syncInterval: "always" }) // "…jetstream {\n  sync_interval: always\n}\n"
 */
export function localNatsConfig(config: LocalNatsConfig): string {
  const lines = ["# Written by npm start (scripts/local-nats-config.ts) at every start; edits are overwritten.", ""];
  if (config.include) lines.push(`include "${config.include}"`, "");
  lines.push(
    "# How often JetStream fsyncs its store: always = before every PubAck (survives power loss);",
    "# a duration = at most that long after a write. NATS_SYNC_INTERVAL sets it (docs/operations.md, Durability).",
    "jetstream {",
    `  sync_interval: ${config.syncInterval}`,
    "}",
    "",
  );
  return lines.join("\n");
}

/**
 * How `configFile` must name `includeFile` (both absolute): nats-server joins an include to the
 * including file's folder, even an absolute one, so it is written relative to that folder.
 * @example includePath("/data/nats/server.conf", "/repo/nats/auth/a.conf") // "../../repo/nats/auth/a.conf"
 */
export function includePath(configFile: string, includeFile: string): string {
  return relative(dirname(configFile), includeFile);
}

/**
 * Writes npm start's server config (including `includeFile`, an absolute path, when given) and
 * returns its path, for `nats-server -c`.
 */
export function writeLocalNatsConfig(syncInterval: SyncInterval, includeFile?: string, path = LOCAL_NATS_CONFIG_FILE): string {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, localNatsConfig({ syncInterval, include: includeFile && includePath(path, includeFile) }));
  return path;
}
