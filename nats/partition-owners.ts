/**
 * Who owns which lane (a service's consumer of the partitions p with p mod LANES = lane, nats/subjects.ts):
 * every instance of a service heartbeats its key in the instances bucket (`<service>.<instanceId>`)
 * and watches its siblings' keys; from the same set of live instances each one computes the same
 * assignment (`assignLanes`), and pulls only the lanes it is given.
 *
 * The assignment spreads the work; it is not what keeps one owner per lane. That is the server's
 * pin (priority group `pinned_client`): while views differ (an instance joining, one that just
 * died), two instances may pull the same lane, and the server delivers to one of them.
 */
import type { KV, KvEntry } from "@nats-io/kv";
import type { Logger } from "../shared/logger.ts";
import { OWNER_TTL_MS } from "./definitions.ts";
import { instanceKey, LANES, type ServiceName } from "./subjects.ts";

/** FNV-1a 32-bit: cheap, stable across processes and runtimes. */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}

/**
 * Lanes per instance: rendezvous hashing with quotas, so every instance gets ⌊n/k⌋ or ⌈n/k⌉ lanes,
 * and an instance joining or leaving moves few of them (each lane goes to the instance that scores
 * it highest among those with room left). Pure: the same members give the same assignment in every
 * process. Instances beyond the lane count get none and stand by.
 */
export function assignLanes(members: readonly string[], partitions = LANES): Map<string, number[]> {
  const sorted = [...new Set(members)].sort();
  const out = new Map<string, number[]>(sorted.map((m) => [m, []]));
  if (sorted.length === 0) return out;
  // The first n mod k instances (in id order) take one partition more than the others.
  const base = Math.floor(partitions / sorted.length);
  const quota = new Map(sorted.map((m, i) => [m, base + (i < partitions % sorted.length ? 1 : 0)]));
  // Partitions with the strongest preference pick first, so the quotas bend the fewest choices.
  const choices = Array.from({ length: partitions }, (_, p) => {
    const ranked = sorted.map((m) => ({ m, score: fnv1a(`${m}/${p}`) })).sort((a, b) => b.score - a.score || (a.m < b.m ? -1 : 1));
    return { p, ranked };
  }).sort((a, b) => b.ranked[0]!.score - a.ranked[0]!.score || a.p - b.p);
  for (const { p, ranked } of choices) {
    const pick = ranked.find(({ m }) => out.get(m)!.length < quota.get(m)!)!;
    out.get(pick.m)!.push(p);
  }
  for (const list of out.values()) list.sort((a, b) => a - b);
  return out;
}

export interface PartitionOwners {
  readonly instanceId: string;
  /** The lanes this instance is assigned now. */
  owned(): ReadonlySet<number>;
  /** Live instances of the service, this one included. */
  members(): string[];
  /** Leaves the group: the heartbeat key is deleted, so the others take over at once. */
  leave(): Promise<void>;
}

export interface PartitionOwnersOptions {
  kv: KV;
  service: ServiceName;
  instanceId: string;
  log: Logger;
  /** Told the new assignment whenever it changes (and once at the start). */
  onChange(owned: ReadonlySet<number>): void;
  /** What the heartbeat says about the instance besides its lanes (pid, port…), for operators. */
  describe?(): Record<string, unknown>;
  ttlMs?: number;
  now?: () => number;
  /** The service's lane count (default LANES). */
  lanes?: number;
}

/** Joins the service's instances: heartbeats, watches the others, and reports its lanes. */
export async function joinPartitionOwners(opts: PartitionOwnersOptions): Promise<PartitionOwners> {
  const ttlMs = opts.ttlMs ?? OWNER_TTL_MS;
  const now = opts.now ?? (() => Date.now());
  const prefix = `${opts.service}.`;
  const myKey = instanceKey(opts.service, opts.instanceId);
  const lastSeen = new Map<string, number>([[opts.instanceId, now()]]);
  let owned: ReadonlySet<number> = new Set();
  let announced = false;
  let leaving = false;

  const live = () => {
    const t = now();
    return [...lastSeen].filter(([id, at]) => id === opts.instanceId || t - at < ttlMs).map(([id]) => id);
  };
  let started = false;
  const recompute = () => {
    if (leaving || !started) return;
    const members = live();
    const mine = new Set(assignLanes(members, opts.lanes).get(opts.instanceId) ?? []);
    if (announced && mine.size === owned.size && [...mine].every((p) => owned.has(p))) return;
    owned = mine;
    announced = true;
    opts.log.info({ lanes: [...mine], instances: members.length }, "lane assignment changed");
    opts.onChange(owned);
  };
  const heartbeat = () =>
    opts.kv.put(
      myKey,
      JSON.stringify({ instance: opts.instanceId, lanes: [...owned], at: new Date().toISOString(), ...opts.describe?.() }),
    );
  const seen = (entry: KvEntry) => {
    if (!entry.key.startsWith(prefix)) return;
    const id = entry.key.slice(prefix.length);
    if (id === opts.instanceId) return;
    if (entry.operation === "PUT") {
      // A value from before this watch started counts from when it was written, not from now.
      lastSeen.set(id, Math.min(now(), entry.created.getTime()));
      if (now() - lastSeen.get(id)! >= ttlMs) lastSeen.delete(id);
    } else {
      lastSeen.delete(id);
    }
    recompute();
  };

  await heartbeat();
  const watch = await opts.kv.watch({ key: `${prefix}*` });
  // The values already there arrive first; the assignment is computed once they are in (or soon).
  let caughtUp: () => void = () => {};
  const initial = new Promise<void>((resolve) => (caughtUp = resolve));
  void (async () => {
    for await (const entry of watch) {
      seen(entry);
      if (entry.delta === 0) caughtUp();
    }
  })().catch((err) => opts.log.warn({ err }, "instances watch ended"));
  await Promise.race([initial, new Promise((r) => setTimeout(r, 1_000))]);
  // Only now: until the siblings are known, this instance would claim every lane.
  const timer = setInterval(
    () => {
      recompute();
      heartbeat().catch((err) => opts.log.warn({ err }, "instance heartbeat failed"));
    },
    Math.max(250, Math.floor(ttlMs / 4)),
  );
  started = true;
  recompute();

  return {
    instanceId: opts.instanceId,
    owned: () => owned,
    members: live,
    async leave() {
      leaving = true;
      clearInterval(timer);
      watch.stop();
      await opts.kv.delete(myKey).catch(() => {});
    },
  };
}
