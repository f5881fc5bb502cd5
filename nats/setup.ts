/**
 * Creates the streams, consumers and buckets a service needs, idempotently: what exists is bound
 * and left as it is (a second instance starting never resets a consumer's position), what is
 * missing is created; two instances racing to create the same thing both succeed.
 */
import type { ConsumerInfo, JetStreamManager } from "@nats-io/jetstream";
import { JetStreamApiError } from "@nats-io/jetstream";
import { Kvm, type KV } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import {
  advisoriesStreamConfig,
  bucketOptions,
  deadLetterStreamConfig,
  hasPartitionShape,
  notificationsStreamConfig,
  ordersStreamConfig,
  partitionConsumerConfig,
  UPDATABLE_STREAM_LIMITS,
  type PartitionConsumerConfig,
  type StreamLimits,
} from "./definitions.ts";
import { DeliverPolicy } from "@nats-io/jetstream";
import { consumerNames, LANES, lanePartitions, ORDERS_STREAM, PARTITIONS, partitionConsumerNames, type ServiceName } from "./subjects.ts";
import type { Topology } from "../shared/config.ts";

const STREAM_NOT_FOUND = 10059;
const CONSUMER_NOT_FOUND = 10014;

function isApiError(err: unknown, code: number): boolean {
  return err instanceof JetStreamApiError && err.code === code;
}

/** Adds a stream unless one of that name exists. */
export async function ensureStream(jsm: JetStreamManager, config: ReturnType<typeof ordersStreamConfig>): Promise<void> {
  try {
    await jsm.streams.info(config.name);
    return;
  } catch (err) {
    if (!isApiError(err, STREAM_NOT_FOUND)) throw err;
  }
  try {
    await jsm.streams.add(config);
  } catch (err) {
    // Lost a creation race to another instance: fine if the stream is there now.
    await jsm.streams.info(config.name).catch(() => {
      throw err;
    });
  }
}

/** Adds a durable consumer unless it exists. */
export async function ensureConsumer(jsm: JetStreamManager, stream: string, config: PartitionConsumerConfig): Promise<void> {
  try {
    await jsm.consumers.info(stream, config.durable_name);
    return;
  } catch (err) {
    if (!isApiError(err, CONSUMER_NOT_FOUND)) throw err;
  }
  try {
    await jsm.consumers.add(stream, config);
  } catch (err) {
    await jsm.consumers.info(stream, config.durable_name).catch(() => {
      throw err;
    });
  }
}

/**
 * Binds a KV bucket, creating it when missing. (`Kvm.open` binds blindly, so existence is checked
 * on the bucket's stream, which also tells whether direct gets are allowed.) A new bucket gets the
 * ORDERS stream's replica count unless `options.replicas` says otherwise: the per-order state must
 * survive losing a cluster node just as the events do (ORDERS_REPLICAS).
 */
export async function ensureBucket(
  nc: NatsConnection,
  jsm: JetStreamManager,
  name: string,
  options: { replicas?: number } & object,
): Promise<KV> {
  const kvm = new Kvm(nc);
  try {
    const info = await jsm.streams.info(`KV_${name}`);
    return await kvm.open(name, { allow_direct: readsDirect(info.config) });
  } catch (err) {
    if (!isApiError(err, STREAM_NOT_FOUND)) throw err;
  }
  try {
    const replicas = options.replicas ?? (await ordersReplicas(jsm));
    const kv = await kvm.create(name, { ...options, replicas });
    return replicas > 1 ? await kvm.open(name, { allow_direct: false }) : kv;
  } catch (err) {
    const info = await jsm.streams.info(`KV_${name}`).catch(() => Promise.reject(err));
    return kvm.open(name, { allow_direct: readsDirect(info.config) });
  }
}

/**
 * Whether a bucket is read with direct gets. On a replicated bucket any replica answers a direct
 * get, also a follower that has not yet applied the last acknowledged write: a handler would decide
 * on stale state (seen in the cluster test: shipping found no items, shipped an out-of-stock order,
 * and only its compare-and-set noticed — after the event was out). Such buckets are read from the
 * stream leader instead; a single replica is the leader, so direct gets stay.
 */
function readsDirect(config: { allow_direct?: boolean; num_replicas?: number }): boolean {
  return config.allow_direct === true && (config.num_replicas ?? 1) <= 1;
}

/** Replicas of the ORDERS stream (1 when it does not exist yet). */
async function ordersReplicas(jsm: JetStreamManager): Promise<number> {
  try {
    return (await jsm.streams.info(ORDERS_STREAM)).config.num_replicas || 1;
  } catch (err) {
    if (isApiError(err, STREAM_NOT_FOUND)) return 1;
    throw err;
  }
}

/** Adds ORDERS and NOTIFICATIONS (with `limits`) unless they exist; see updateOrderStreamLimits for existing ones. */
export async function ensureOrderStreams(
  jsm: JetStreamManager,
  replicas: number,
  limits?: StreamLimits,
  topology: Topology = { kind: "single" },
): Promise<void> {
  await ensureStream(jsm, ordersStreamConfig(replicas, limits, topology));
  // A stream made before this server joined sites gains the site subjects in place.
  if (topology.kind !== "single")
    await ensureStreamSubjects(jsm, ORDERS_STREAM, ordersStreamConfig(replicas, limits, topology).subjects ?? []);
  await ensureStream(jsm, notificationsStreamConfig(replicas, limits));
}

/** Adds ORDERS_DLQ and ORDERS_ADVISORIES unless they exist. */
export async function ensureDeadLetterStreams(jsm: JetStreamManager, replicas: number): Promise<void> {
  await ensureStream(jsm, deadLetterStreamConfig(replicas));
  await ensureStream(jsm, advisoriesStreamConfig(replicas));
}

/**
 * Brings the limits of the existing ORDERS and NOTIFICATIONS streams to `limits`; resolves with
 * the names of the streams it changed. Needs `$JS.API.STREAM.UPDATE.<stream>`, which the services'
 * users of nats/auth/ do not have: there the admin applies them (docs/operations.md).
 */
export async function updateOrderStreamLimits(jsm: JetStreamManager, replicas: number, limits?: StreamLimits): Promise<string[]> {
  const changed: string[] = [];
  for (const wanted of [ordersStreamConfig(replicas, limits), notificationsStreamConfig(replicas, limits)]) {
    if (await updateStreamLimits(jsm, wanted)) changed.push(wanted.name);
  }
  return changed;
}

/**
 * Updates the limits (age, bytes, discard, compression) of an existing stream that differ from
 * `wanted`: a new version or new settings take effect at the next start, on the stream that holds
 * the data. Compression applies to blocks written from then on.
 */
export async function updateStreamLimits(jsm: JetStreamManager, wanted: ReturnType<typeof ordersStreamConfig>): Promise<boolean> {
  const { config } = await jsm.streams.info(wanted.name);
  const differs = UPDATABLE_STREAM_LIMITS.filter((k) => wanted[k] !== undefined && (config[k] ?? defaults[k]) !== wanted[k]);
  if (differs.length === 0) return false;
  await jsm.streams.update(wanted.name, { ...config, ...Object.fromEntries(differs.map((k) => [k, wanted[k]])) });
  return true;
}

/** What the server reports for a limit left unset. */
const defaults: Record<(typeof UPDATABLE_STREAM_LIMITS)[number], unknown> = {
  max_age: 0,
  max_bytes: -1,
  discard: "old",
  compression: "none",
};

/** A stream update that other instances' updates kept overtaking; starting again usually succeeds. */
export class StreamUpdateRaceError extends Error {
  constructor(stream: string, what: string) {
    super(`could not ${what} on the ${stream} stream after 5 attempts: other updates kept racing; restart the service to try again`);
    this.name = "StreamUpdateRaceError";
  }
}

/**
 * Adds subjects a stream lacks (never removes any), re-reading after the update: instances racing
 * with other updates (a site's source added meanwhile) keep each other's changes.
 */
export async function ensureStreamSubjects(jsm: JetStreamManager, stream: string, subjects: string[]): Promise<void> {
  for (let attempt = 1; attempt <= 5; attempt++) {
    const { config } = await jsm.streams.info(stream);
    const missing = subjects.filter((s) => !(config.subjects ?? []).includes(s));
    if (missing.length === 0) return;
    await jsm.streams.update(stream, { ...config, subjects: [...(config.subjects ?? []), ...missing] });
  }
  throw new StreamUpdateRaceError(stream, `add the subjects ${subjects.join(", ")}`);
}

/**
 * The service's lane consumers. A system made by a version before lanes has one consumer per
 * partition instead (`payment-p07`): each lane then starts after the lowest acknowledged floor of
 * its partitions' consumers — nothing any of them had not finished is skipped; what one had finished
 * above that floor comes again, which the handlers' fences make a no-op — and the old consumers are
 * deleted once every lane exists. Stop every instance of the service of the older version first: an
 * old instance still pulling would handle events beside the new ones.
 */
export async function ensurePartitionConsumers(
  jsm: JetStreamManager,
  stream: string,
  service: ServiceName,
  topology: Topology = { kind: "single" },
  lanes = LANES,
): Promise<void> {
  await refuseOtherLaneCount(jsm, stream, service, lanes);
  const floors = await partitionConsumerFloors(jsm, stream, service);
  await Promise.all(
    Array.from({ length: lanes }, (_, lane) => {
      const left = lanePartitions(lane, lanes).flatMap((p) => floors.get(p) ?? []);
      const startAfter = left.length > 0 ? Math.min(...left) : undefined;
      return ensurePartitionConsumer(jsm, stream, partitionConsumerConfig(service, lane, topology, lanes), startAfter);
    }),
  );
  for (const [p] of floors) {
    await jsm.consumers.delete(stream, partitionConsumerNames(service)[p]!).catch((err: unknown) => {
      if (!isApiError(err, CONSUMER_NOT_FOUND)) throw err;
    });
  }
}

/** The service's lane consumers were made for another lane count than this instance's. */
export class LaneCountError extends Error {
  constructor(service: ServiceName, found: number, wanted: number) {
    super(
      `the ORDERS consumers of ${service} are laid out in ${found} lanes, this instance is set to LANES=${wanted}: ` +
        `start every instance of ${service} with LANES=${found}, or change the count as docs/design.md "Changing the lane count" says`,
    );
    this.name = "LaneCountError";
  }
}

/**
 * Refuses to start beside lane consumers of another count: a lane of one layout and a lane of
 * another would both deliver some partitions (twice the work, and per-order order lost between them).
 */
async function refuseOtherLaneCount(jsm: JetStreamManager, stream: string, service: ServiceName, lanes: number): Promise<void> {
  // Each name looked up (a service's NATS user may read its own consumers, not list the stream's).
  const existing = await Promise.all(
    consumerNames(service, PARTITIONS).map((name) =>
      jsm.consumers.info(stream, name).catch((err: unknown) => (isApiError(err, CONSUMER_NOT_FOUND) ? null : Promise.reject(err))),
    ),
  );
  for (const info of existing) {
    if (!info) continue;
    // Lane k of n holds the partitions k, k + n, …: the step between its first two is n.
    const partitions = [...new Set((info.config.filter_subjects ?? [info.config.filter_subject ?? ""]).map(partitionOfFilter))]
      .filter((p) => p !== null)
      .sort((a, b) => a - b);
    const found = partitions.length > 1 ? partitions[1]! - partitions[0]! : PARTITIONS;
    if (found !== lanes) throw new LaneCountError(service, found, lanes);
  }
}

/** The partition token of a consumer filter (`orders.7.*.T`, `sites.*.orders.7.*.*`), or null. */
function partitionOfFilter(filter: string): number | null {
  const tokens = filter.split(".");
  const at = tokens.indexOf("orders");
  const p = at >= 0 ? Number(tokens[at + 1]) : Number.NaN;
  return Number.isInteger(p) ? p : null;
}

/** The acknowledged floor of each per-partition consumer an earlier version left, by partition. */
async function partitionConsumerFloors(jsm: JetStreamManager, stream: string, service: ServiceName): Promise<Map<number, number>> {
  const floors = new Map<number, number>();
  await Promise.all(
    partitionConsumerNames(service).map(async (name, p) => {
      try {
        floors.set(p, (await jsm.consumers.info(stream, name)).ack_floor.stream_seq);
      } catch (err) {
        if (!isApiError(err, CONSUMER_NOT_FOUND)) throw err;
      }
    }),
  );
  return floors;
}

/**
 * Adds a partition consumer unless one of the right shape exists. One left by an earlier version
 * (explicit acks, every instance pulling) cannot be changed in place (the ack policy is fixed at
 * creation), so it is replaced by one that starts after its acknowledged floor: nothing it had
 * handled is handed out again, nothing it had not is skipped.
 */
export async function ensurePartitionConsumer(
  jsm: JetStreamManager,
  stream: string,
  wanted: PartitionConsumerConfig,
  /** When it is missing: the stream sequence it starts after (the floor of the consumers it replaces); default, the start. */
  startAfter?: number,
): Promise<void> {
  let existing: ConsumerInfo | undefined;
  try {
    existing = await jsm.consumers.info(stream, wanted.durable_name);
  } catch (err) {
    if (!isApiError(err, CONSUMER_NOT_FOUND)) throw err;
  }
  if (existing && hasPartitionShape(existing.config, wanted)) {
    // Limits a version may change in place (say, a smaller max_ack_pending): updated, not replaced.
    const { max_ack_pending, ack_wait, max_deliver } = wanted;
    const c = existing.config;
    if (c.max_ack_pending !== max_ack_pending || c.ack_wait !== ack_wait || c.max_deliver !== max_deliver) {
      await jsm.consumers.update(stream, wanted.durable_name, { max_ack_pending, ack_wait, max_deliver });
    }
    return;
  }
  const floor = existing ? existing.ack_floor.stream_seq : startAfter;
  const config: PartitionConsumerConfig =
    floor !== undefined ? { ...wanted, deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: floor + 1 } : wanted;
  if (existing) await jsm.consumers.delete(stream, wanted.durable_name).catch(() => false);
  try {
    await jsm.consumers.add(stream, config);
  } catch (err) {
    // Another instance made it first (or replaced the old one): fine if the one there now has the shape.
    const now = await jsm.consumers.info(stream, wanted.durable_name).catch(() => Promise.reject(err));
    if (!hasPartitionShape(now.config, wanted)) throw err;
  }
}

export { bucketOptions };
