/**
 * Readiness that does not trust the client's connection state (a frozen server keeps the socket
 * open): a probe in the background, every `intervalMs`, at most one in flight and each bounded by
 * the probe's own timeout, asks the server (nats/jetstream-probe.ts). /readyz and the
 * `orderstream_ready` gauge only read the last answers, so a scrape storm costs the server nothing.
 *
 * Checks: `nats` (PING answered), `jetstream` (the ORDERS stream's info names a leader with a quorum), `consumers`
 * (start-up done, not draining) and `store` (room for writes). A full store makes only an
 * instance that takes writes from users unready (the order service): consumers must keep draining.
 */
import type { JetStreamProbe, StoreUsage } from "../nats/jetstream-probe.ts";
import type { StoreRefusal } from "../shared/store-refusal.ts";

export type CheckName = "nats" | "jetstream" | "consumers" | "store";

export interface CheckState {
  ok: boolean;
  /** When the check last changed (ISO 8601). */
  since: string;
  /** What failed, in words an operator can act on (absent while ok). */
  detail?: string;
}

export interface ReadinessReport {
  ready: boolean;
  checks: Record<CheckName, CheckState>;
}

export interface ReadinessOptions {
  probe: JetStreamProbe;
  /** Whether a full store makes this instance unready (it takes writes from users). */
  storeGatesReadiness: boolean;
  /** Pause between probes (default 1 s). */
  intervalMs?: number;
  /** Account usage is read every this many probes, and at every probe while the store is full (default 5). */
  usageEvery?: number;
  /**
   * With no limit to compare against (the server's max_file_store is not visible to an account), a
   * full store is assumed to have room again after this long, so the next write tells (default 30 s).
   */
  storeRecheckMs?: number;
  /** Told when a check changes (the log). */
  onChange?(name: CheckName, state: CheckState): void;
  now?(): number;
}

/** Free bytes under which a store with a known limit counts as full: one order's events, with margin. */
export const STORE_HEADROOM_BYTES = 64 * 1024;

export interface Readiness {
  ready(): boolean;
  report(): ReadinessReport;
  /** The last account usage read (undefined before the first). */
  storeUsage(): StoreUsage | undefined;
  /** A write was refused for lack of room. */
  storeRefused(refusal: StoreRefusal): void;
  /** Start-up done (true), or draining (false). */
  setConsumersBound(bound: boolean, detail?: string): void;
  /** One probe round (the loop's step; tests call it directly). */
  probeOnce(): Promise<void>;
  start(): void;
  stop(): void;
}

export function createReadiness(opts: ReadinessOptions): Readiness {
  const now = opts.now ?? Date.now;
  const intervalMs = opts.intervalMs ?? 1_000;
  const usageEvery = opts.usageEvery ?? 5;
  const storeRecheckMs = opts.storeRecheckMs ?? 30_000;
  const iso = () => new Date(now()).toISOString();
  const checks: Record<CheckName, CheckState> = {
    nats: { ok: false, since: iso(), detail: "not probed yet" },
    jetstream: { ok: false, since: iso(), detail: "not probed yet" },
    consumers: { ok: false, since: iso(), detail: "starting" },
    store: { ok: true, since: iso() },
  };
  let usage: StoreUsage | undefined;
  /** While the store check fails: the usage when it was found full. */
  let fullAt: { at: number; used: number } | undefined;
  let rounds = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let running = false;

  const set = (name: CheckName, ok: boolean, detail?: string) => {
    const current = checks[name];
    if (current.ok === ok && current.detail === detail) return;
    const next: CheckState = { ok, since: current.ok === ok ? current.since : iso(), ...(ok ? {} : { detail }) };
    checks[name] = next;
    opts.onChange?.(name, next);
  };
  const why = (err: unknown) => (err instanceof Error ? err.message : String(err));

  const storeFull = (detail: string) => {
    fullAt ??= { at: now(), used: usage?.used ?? 0 };
    set("store", false, detail);
  };
  const judgeStore = () => {
    if (!usage) return;
    const free = usage.limit - usage.used;
    if (usage.limit > 0 && free < STORE_HEADROOM_BYTES) {
      storeFull(`the account's JetStream storage is full: ${usage.used} of ${usage.limit} bytes used`);
      return;
    }
    if (!fullAt) return;
    const room =
      (usage.limit > 0 && free >= STORE_HEADROOM_BYTES) ||
      usage.used + STORE_HEADROOM_BYTES <= fullAt.used ||
      now() - fullAt.at >= storeRecheckMs;
    if (room) {
      fullAt = undefined;
      set("store", true);
    }
  };

  const probeOnce = async () => {
    const readUsage = rounds++ % usageEvery === 0 || fullAt !== undefined;
    const [ping, stream, store] = await Promise.allSettled([
      opts.probe.ping(),
      opts.probe.ordersStream(),
      readUsage ? opts.probe.storeUsage() : Promise.resolve(undefined),
    ]);
    if (ping.status === "rejected") set("nats", false, `the NATS server did not answer a PING: ${why(ping.reason)}`);
    else set("nats", true);
    if (stream.status === "rejected") set("jetstream", false, `JetStream did not serve the ORDERS stream's info: ${why(stream.reason)}`);
    else set("jetstream", true);
    if (store.status === "fulfilled" && store.value) usage = store.value;
    judgeStore();
  };

  const loop = async () => {
    if (!running) return;
    const started = now();
    await probeOnce().catch(() => {});
    if (running) timer = setTimeout(() => void loop(), Math.max(0, intervalMs - (now() - started)));
  };

  const ready = () => checks.nats.ok && checks.jetstream.ok && checks.consumers.ok && (checks.store.ok || !opts.storeGatesReadiness);

  return {
    ready,
    report: () => ({ ready: ready(), checks: { ...checks } }),
    storeUsage: () => usage,
    storeRefused(refusal) {
      storeFull(`JetStream refused a write: ${refusal.description} (error ${refusal.code})`);
    },
    setConsumersBound(bound, detail) {
      set("consumers", bound, bound ? undefined : (detail ?? "not bound"));
    },
    probeOnce,
    start() {
      if (running) return;
      running = true;
      void loop();
    },
    stop() {
      running = false;
      clearTimeout(timer);
    },
  };
}
