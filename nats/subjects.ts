/**
 * The one place that knows stream, subject, consumer, bucket and header names.
 *
 * Subject scheme: `orders.<partition>.<orderId>.<eventType>`.
 * - the order id in the subject makes one order's history one subject filter (`orders.<p>.<id>.*`);
 * - the event type last makes every (order, event type) its own subject, so "this event was already
 *   published" is a per-subject check the stream itself enforces (see nats/publish.ts);
 * - the partition token lets one instance own a slice of orders at a time (a service reads the
 *   partitions through LANES durables, each holding the partitions p with p mod LANES = its lane,
 *   pinned to one puller), which is what keeps per-order order with several instances;
 * - the event type as the last token lets a consumer be delivered only the types its service acts on.
 *
 * Sites (README "Sites", docs/design.md "Sites"): an order placed at a site has an id that names the
 * site (`edge1-<uuid>`, shared/ids.ts) and lives under `sites.<site>.orders.<p>.<orderId>.<T>`, the
 * same subject at the site and at the hub: every subject is a function of the order id alone, so no
 * component needs to know where it runs to name an event, and neither sourcing direction rewrites
 * subjects. Plain ids keep the plain form, so a single-site system is exactly as before.
 */
import { EVENT_TYPES, type EventType } from "../shared/events.ts";
import type { Topology } from "../shared/config.ts";
import { siteOfOrderId } from "../shared/ids.ts";
import { ServiceManifestError } from "../shared/service-manifest.ts";

export const ORDERS_STREAM = "ORDERS";
export const ORDERS_SUBJECTS = "orders.*.*.*";
export const NOTIFICATIONS_STREAM = "NOTIFICATIONS";
export const NOTIFICATIONS_SUBJECTS = "notifications.*.*.*";

/**
 * Partition count. Publishers and consumers must agree, so changing it means a new stream (or a
 * server mapping) and draining the old one; see docs/design.md "Partitions, lanes and their owners".
 */
export const PARTITIONS = 16;

/**
 * Lanes per service, by default (the `LANES` default of shared/env-vars.ts): the durable consumers a service reads ORDERS through, lane k
 * holding the partitions p with p mod lanes = k — the unit an instance owns, so also the most
 * instances of a service that share the work. Not stored in any subject: fewer, busier consumers
 * cost nats-server and the services less per event (BENCHMARKS.md "Lanes"). The `LANES` setting
 * (one of LANE_COUNTS, the same for every instance of a service) picks another count; a start with
 * a count other than the one the service's consumers were made with is refused (nats/setup.ts).
 */
export const LANES = Number(envDefault("LANES"));

export { LANE_COUNTS } from "../shared/config.ts";
import { envDefault } from "../shared/env-vars.ts";

/** The lane that reads a partition. */
export function laneOf(partition: number, lanes = LANES): number {
  return partition % lanes;
}

/** The lane that reads an order's events. */
export function laneOfOrder(orderId: string, lanes = LANES): number {
  return laneOf(partitionOf(orderId), lanes);
}

/** The partitions a lane holds, ascending. */
export function lanePartitions(lane: number, lanes = LANES): number[] {
  return Array.from({ length: PARTITIONS / lanes }, (_, i) => lane + i * lanes);
}

// The services are registered in the bottom layer (shared/services.ts, from their manifests); this
// file names what they own in NATS.
export { isServiceName, SERVICES, type ServiceName } from "../shared/services.ts";
import { isServiceName, manifestOf, type ServiceName } from "../shared/services.ts";

/**
 * FNV-1a 32-bit of the order id modulo the partition count: the same function as the server's
 * `{{partition(n, k)}}` subject mapping, so a mapping could compute the token instead.
 */
const encoder = new TextEncoder();

export function partitionOf(orderId: string, partitions = PARTITIONS): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < orderId.length; i++) {
    const code = orderId.charCodeAt(i);
    // The hash is over the UTF-8 bytes; an ASCII character is its own byte, so the ids the API
    // issues (and site ids) are hashed without encoding them first (this runs per event published).
    if (code >= 0x80) return fnvBytes(orderId, partitions);
    hash ^= code;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % partitions;
}

function fnvBytes(key: string, partitions: number): number {
  let hash = 0x811c9dc5;
  for (const byte of encoder.encode(key)) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % partitions;
}

/** The subject of one event of one order. */
export function eventSubject(orderId: string, eventType: EventType): string {
  const subject = `orders.${partitionOf(orderId)}.${orderId}.${eventType}`;
  const site = siteOfOrderId(orderId);
  return site === undefined ? subject : `sites.${site}.${subject}`;
}

/** All events of one order. */
export function orderSubjectFilter(orderId: string): string {
  const filter = `orders.${partitionOf(orderId)}.${orderId}.*`;
  const site = siteOfOrderId(orderId);
  return site === undefined ? filter : `sites.${site}.${filter}`;
}

/** Every site's orders at the hub. */
export const SITE_ORDERS_SUBJECTS = "sites.*.orders.*.*.*";

/** The subjects of the ORDERS stream: a hub's also hold every site's orders, a site's its own. */
export function ordersStreamSubjects(topology: Topology): string[] {
  switch (topology.kind) {
    case "single":
      return [ORDERS_SUBJECTS];
    case "hub":
      return [ORDERS_SUBJECTS, SITE_ORDERS_SUBJECTS];
    case "site":
      return [ORDERS_SUBJECTS, `sites.${topology.site}.orders.*.*.*`];
  }
}

// Who consumes and who publishes which event type: derived from the services' manifests.
export { CONSUMED_EVENT_TYPES, DEFAULT_SERVICES, PUBLISHED_EVENT_TYPES, publisherOf } from "../shared/services.ts";
import { CONSUMED_EVENT_TYPES } from "../shared/services.ts";

/**
 * Where a service's consumers look for orders: plain subjects, and at the hub every site's for the
 * services that act on a site's orders there (payment, shipping, notification); the hub's order
 * service handles only hub orders, because a site's ORDER_CANCELLED is decided at the site. At a
 * site the order service handles only that site's orders.
 */
function subjectPrefixes(service: ServiceName, topology: Topology): string[] {
  switch (topology.kind) {
    case "single":
      return ["orders"];
    case "hub":
      return service === "order" ? ["orders"] : ["orders", "sites.*.orders"];
    case "site":
      return [`sites.${topology.site}.orders`];
  }
}

/** The subject filters of a service's consumer for one lane: its partitions × the event types it acts on. */
export function consumerFilterSubjects(
  service: ServiceName,
  lane: number,
  topology: Topology = { kind: "single" },
  lanes = LANES,
): string[] {
  const types = CONSUMED_EVENT_TYPES[service];
  const all = types.length === EVENT_TYPES.length;
  return subjectPrefixes(service, topology).flatMap((prefix) =>
    lanePartitions(lane, lanes).flatMap((p) => (all ? [`${prefix}.${p}.*.*`] : types.map((type) => `${prefix}.${p}.*.${type}`))),
  );
}

/** Every event of one lane a service's consumer may hold (what a new owner reads back). */
export function laneSubjectFilters(service: ServiceName, lane: number, topology: Topology = { kind: "single" }, lanes = LANES): string[] {
  return subjectPrefixes(service, topology).flatMap((prefix) => lanePartitions(lane, lanes).map((p) => `${prefix}.${p}.*.*`));
}

/** The priority group every partition consumer pins to one puller: the partition's owner. */
export const OWNER_GROUP = "owner";

export interface EventSubject {
  partition: number;
  orderId: string;
  eventType: string;
}

/** Splits an ORDERS subject (plain, or a site order's) into its tokens, or null if it is not one. */
export function parseEventSubject(subject: string): EventSubject | null {
  const tokens = subject.split(".");
  if (tokens.length === 6) {
    // sites.<site>.orders.<p>.<orderId>.<T>: the site token must be the one the id names.
    if (tokens[0] !== "sites" || tokens[2] !== "orders" || siteOfOrderId(tokens[4]!) !== tokens[1]) return null;
    tokens.splice(0, 3, "orders");
  }
  if (tokens.length !== 4 || tokens[0] !== "orders" || !/^(0|[1-9][0-9]*)$/.test(tokens[1]!)) return null;
  return { partition: Number(tokens[1]), orderId: tokens[2]!, eventType: tokens[3]! };
}

/** Durable consumer name of a service for one lane, e.g. `payment-lane3`. */
export function consumerName(service: ServiceName, lane: number): string {
  return `${service}-lane${lane}`;
}

export function consumerNames(service: ServiceName, lanes = LANES): string[] {
  return Array.from({ length: lanes }, (_, lane) => consumerName(service, lane));
}

/** The lane a consumer name of the service is, or null (`payment-lane3` → 3). */
export function laneOfConsumer(service: ServiceName, consumer: string): number | null {
  const m = /^(.+)-lane(\d+)$/.exec(consumer);
  return m && m[1] === service ? Number(m[2]) : null;
}

/**
 * The durables of versions before lanes, one per partition (`payment-p07`): replaced by the lanes at
 * the first start (nats/setup.ts), which start each lane at the lowest acknowledged floor among them.
 */
export function partitionConsumerNames(service: ServiceName): string[] {
  return Array.from({ length: PARTITIONS }, (_, p) => `${service}-p${String(p).padStart(2, "0")}`);
}

export function notificationSubject(userId: string, orderId: string, eventType: EventType): string {
  return `notifications.${userId}.${orderId}.${eventType}`;
}

export function userNotificationsFilter(userId: string): string {
  return `notifications.${userId}.*.*`;
}

/**
 * KV buckets: the order API's idempotency keys, the instances of each service (a heartbeat per
 * instance, `<service>.<instanceId>`), from which every instance computes who owns which partition,
 * and the messages suspected of crashing their consumer.
 */
export const BUCKETS = {
  idempotencyKeys: "idempotency-keys",
  instances: "service-instances",
  /** Crash suspects: `<service>.<lane>.<ordersSeq>` → isolated starts not finished (nats/crash-suspects.ts). */
  crashSuspects: "crash-suspects",
  /** The loyalty service's accounts: `<userId>` → points and the payment events applied (services/loyalty/store.ts). */
  loyaltyPoints: "loyalty-points",
} as const;

/** The streams a service writes besides ORDERS, by the key its manifest names them with (`nats.streams`). */
export const SERVICE_STREAMS = {
  notifications: { name: NOTIFICATIONS_STREAM, subjects: NOTIFICATIONS_SUBJECTS },
} as const;

/**
 * The names of a service's own buckets and streams (its manifest's `nats`), resolved here so that a
 * key no table knows fails at start-up with its name rather than granting nothing.
 */
export function ownResourcesOf(service: ServiceName): { buckets: string[]; streams: { name: string; subjects: string }[] } {
  const own = manifestOf(service).nats ?? {};
  const lookup = <T>(table: Record<string, T>, kind: string, key: string): T => {
    const found = Object.hasOwn(table, key) ? table[key] : undefined;
    if (found === undefined)
      throw new ServiceManifestError(`the ${service} manifest names ${kind} "${key}", which nats/subjects.ts does not define`);
    return found;
  };
  return {
    buckets: (own.buckets ?? []).map((key) => lookup<string>(BUCKETS, "bucket", key)),
    streams: (own.streams ?? []).map((key) => lookup<{ name: string; subjects: string }>(SERVICE_STREAMS, "stream", key)),
  };
}

/** The key of one message in the crash suspects bucket. */
export function crashSuspectKey(service: ServiceName, lane: number, seq: number): string {
  return `${service}.${lane}.${seq}`;
}

/** The key of one instance in the instances bucket. */
export function instanceKey(service: ServiceName, instanceId: string): string {
  return `${service}.${instanceId}`;
}

/**
 * The link between a site and its hub, by name (nats/sites.ts sets it up; docs/design.md "Sites"):
 * each event type has one origin — the order's site for what the customer does, the hub for what
 * the central systems decide — and each direction carries exactly the types of its origin, so no
 * event travels back to where it came from.
 */
export const SITE_ORIGIN_TYPES: readonly EventType[] = ["ORDER_CREATED", "ORDER_CANCEL_REQUESTED", "ORDER_CANCELLED"];
export const HUB_ORIGIN_TYPES: readonly EventType[] = EVENT_TYPES.filter((t) => !SITE_ORIGIN_TYPES.includes(t));

/** The site's durable push consumer on its ORDERS that the hub's ORDERS sources through. */
export const SITE_FORWARD_CONSUMER = "to-hub";

/** The hub's durable push consumer on its ORDERS that one site's ORDERS sources through. */
export function siteReturnConsumer(site: string): string {
  return `to-site-${site}`;
}

/**
 * Deliver subjects of the two sourcing consumers: the only order traffic that crosses the leaf link
 * (the leafnode remote denies the data subjects themselves, nats/sites/site.conf).
 */
export function siteForwardDeliverSubject(site: string): string {
  return `orderstream.sites.${site}.to-hub`;
}

export function siteReturnDeliverSubject(site: string): string {
  return `orderstream.sites.${site}.from-hub`;
}

/** What the forward consumer carries: the site's own decisions on its own orders. */
export function siteForwardFilters(site: string): string[] {
  return SITE_ORIGIN_TYPES.map((type) => `sites.${site}.orders.*.*.${type}`);
}

/** What the return consumer carries: the hub's decisions on that site's orders. */
export function siteReturnFilters(site: string): string[] {
  return HUB_ORIGIN_TYPES.map((type) => `sites.${site}.orders.*.*.${type}`);
}

/** The JetStream API prefix of another domain, as a stream source's `external.api`. */
export function jetStreamApiOf(domain: string): string {
  return `$JS.${domain}.API`;
}

/**
 * Dead letters (nats/dead-letter-write.ts): the ORDERS_DLQ stream holds one entry per consumer and
 * ORDERS sequence, `dlq.orders.<consumer>.<ordersSeq>`, and the operator's retry requests,
 * `dlq.retry.<service>.<consumer>.<ordersSeq>`, which the instances of that service share one durable
 * on (nats/dead-letter-retry.ts).
 */
export const DLQ_STREAM = "ORDERS_DLQ";
export const DLQ_SUBJECTS = "dlq.>";
/** Every dead letter, without the retry requests. */
export const DEAD_LETTERS_FILTER = "dlq.orders.>";
/** Any consumer's dead letter: what every service may write (an advisory names any consumer; nats/auth/). */
export const DEAD_LETTER_SUBJECTS = "dlq.orders.*.*";

/** The dead letter of one ORDERS message for one consumer. */
export function deadLetterSubject(consumer: string, streamSeq: number): string {
  return `dlq.orders.${consumer}.${streamSeq}`;
}

/** The consumer a dead letter's subject names, or null if it is not a dead letter's subject. */
export function consumerOfDeadLetter(subject: string): string | null {
  const tokens = subject.split(".");
  return tokens.length === 4 && tokens[0] === "dlq" && tokens[1] === "orders" ? tokens[2]! : null;
}

/** A request that `service` hand the dead letter of `consumer` at `streamSeq` to a fresh handler. */
export function retrySubject(service: ServiceName, consumer: string, streamSeq: number): string {
  return `dlq.retry.${service}.${consumer}.${streamSeq}`;
}

/** The retry requests one service's instances take. */
export function retryFilter(service: ServiceName): string {
  return `dlq.retry.${service}.>`;
}

/** The consumer and ORDERS sequence a retry request names, or null if it is not one. */
export function parseRetrySubject(subject: string): { consumer: string; streamSeq: number } | null {
  const tokens = subject.split(".");
  if (tokens.length !== 5 || tokens[0] !== "dlq" || tokens[1] !== "retry" || !tokens[3]) return null;
  const streamSeq = Number(tokens[4]);
  return Number.isSafeInteger(streamSeq) && streamSeq > 0 ? { consumer: tokens[3], streamSeq } : null;
}

/** The durable on ORDERS_DLQ that the instances of one service share for its retry requests. */
export function dlqRetryConsumer(service: ServiceName): string {
  return `${service}-dlq-retry`;
}

/** The service a partition consumer belongs to (`payment-p03` → payment), or null. */
export function serviceOfConsumer(consumer: string): ServiceName | null {
  // `-lane<k>`, or `-p<NN>` in a dead letter written before lanes.
  const name = consumer.replace(/-(lane\d+|p\d+)$/, "");
  return isServiceName(name) ? name : null;
}

/**
 * The server's MAX_DELIVERIES advisories of the ORDERS consumers (a message that died without a
 * service seeing it: crashes, ack timeouts), kept in ORDERS_ADVISORIES and turned into dead letters
 * through one durable every instance of every service shares (nats/dead-letter-advisories.ts).
 */
export const ADVISORIES_STREAM = "ORDERS_ADVISORIES";
export const ADVISORY_CONSUMER = "dlq-advisories";

/** The MAX_DELIVERIES advisory of one ORDERS consumer (`*`: of every one, the advisories stream's subject). */
export function maxDeliveriesAdvisorySubject(consumer = "*"): string {
  return `$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.${ORDERS_STREAM}.${consumer}`;
}

/**
 * Core NATS (not stored): the trace ids the outcome sampling policy keeps, announced by the
 * instance that decided so to every other (nats/trace-keeping.ts, otel/outcome-sampling.ts).
 */
export const TRACE_KEEP_SUBJECT = "orderstream.traces.keep";

/** The headers a dead letter carries besides the original message's own. */
export const DlqHeader = {
  reason: "Orderstream-Dlq-Reason",
  streamSeq: "Orderstream-Dlq-Stream-Seq",
  consumer: "Orderstream-Dlq-Consumer",
  subject: "Orderstream-Dlq-Subject",
  deliveries: "Orderstream-Dlq-Deliveries",
  source: "Orderstream-Dlq-Source",
} as const;

/**
 * Message headers the code reads by name. The server's own that nats.js names (`Nats-Msg-Id`,
 * `Nats-Expected-*`, `Nats-Stream-Source`) come from its `PubHeaders` and `JsHeaders`; the trace
 * headers are written and read whole by otel/nats-headers.ts, `traceparent` is also kept with a
 * stored event.
 */
export const Header = {
  /** W3C trace context of the PRODUCER span. */
  traceparent: "traceparent",
  /** W3C trace state, when the trace carries vendor state. */
  tracestate: "tracestate",
  /** The pin id a pinned pull consumer delivers with (its change means the pin moved). */
  pinId: "Nats-Pin-Id",
} as const;
