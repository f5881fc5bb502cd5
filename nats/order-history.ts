/**
 * Reading ORDERS straight from the stream, without a consumer: one order's events (what the order
 * view, read-your-writes and a new partition owner fold), a stretch of one partition (what a new
 * owner takes over), and one message by sequence (a dead letter's original). Every (order, event type) is its own subject holding at most one message, so an
 * order's history is the last message of each subject under `orders.<p>.<id>.*`: one batch direct
 * get (`multi_last`), a single round trip.
 *
 * Direct gets are answered by any replica. On a replicated stream a follower may not hold the event
 * just acknowledged yet (the cluster test saw a 404 right after a 201), so there an order is read
 * through the stream leader instead (one "last message for subject" get per event type, sent
 * together), and so is a partition stretch.
 */
import { isValidTraceId } from "@opentelemetry/api";
import { JetStreamApiError, type JetStreamManager, type StoredMsg } from "@nats-io/jetstream";
import { EVENT_TYPES, parseEvent, type OrderEvent } from "../shared/events.ts";
import { eventSubject, Header, ORDERS_STREAM, orderSubjectFilter } from "./subjects.ts";
import { headerValue } from "../otel/nats-headers.ts";

export interface StoredEvent {
  seq: number;
  subject: string;
  time: string;
  event: OrderEvent;
  traceparent: string | null;
}

/** One stored event as `GET /orders/{id}/events` answers it (and `cli events --json`). */
export function eventRecord(e: StoredEvent) {
  return { seq: e.seq, subject: e.subject, time: e.time, eventType: e.event.eventType, data: e.event, traceparent: e.traceparent };
}

/** The trace id inside a W3C traceparent (`00-<trace-id>-<span-id>-<flags>`). */
export function traceIdOf(traceparent: string | null | undefined): string | null {
  const id = traceparent?.split("-")[1];
  return id && isValidTraceId(id) ? id : null;
}

export function toStoredEvent(msg: StoredMsg): StoredEvent | null {
  let value: unknown;
  try {
    value = msg.json();
  } catch {
    return null;
  }
  const parsed = parseEvent(value);
  if (!parsed.ok) return null;
  return {
    seq: msg.seq,
    subject: msg.subject,
    time: msg.time.toISOString(),
    event: parsed.event,
    traceparent: headerValue(msg.header, Header.traceparent) || null,
  };
}

/** One ORDERS message, read consistently (from the leader on a replicated stream). */
export async function getOrdersMessage(
  jsm: JetStreamManager,
  query: { seq: number } | { last_by_subj: string },
): Promise<StoredMsg | null> {
  return (await ordersReplicated(jsm)) ? jsm.streams.getMessage(ORDERS_STREAM, query) : jsm.direct.getMessage(ORDERS_STREAM, query);
}

/**
 * One ORDERS message by sequence, from the stream leader, whatever it holds (a dead letter's
 * original, valid event or not); null when it is gone or the server refuses the get.
 */
export async function ordersMessage(jsm: JetStreamManager, seq: number): Promise<StoredMsg | null> {
  try {
    return await jsm.streams.getMessage(ORDERS_STREAM, { seq });
  } catch (err) {
    if (err instanceof JetStreamApiError) return null;
    throw err;
  }
}

const replicatedByManager = new WeakMap<JetStreamManager, Promise<boolean>>();

function ordersReplicated(jsm: JetStreamManager): Promise<boolean> {
  let known = replicatedByManager.get(jsm);
  if (!known) {
    known = jsm.streams.info(ORDERS_STREAM).then((info) => (info.config.num_replicas ?? 1) > 1);
    replicatedByManager.set(jsm, known);
    // A failed lookup (e.g. NATS away) is asked again next time.
    known.catch(() => replicatedByManager.delete(jsm));
  }
  return known;
}

/**
 * A batch direct get, collected: resolves with every message the server sent once it ends the
 * batch. Callback mode, because the iterator of nats.js 3.4 never unsubscribes its reply inbox.
 */
function directBatch(
  jsm: JetStreamManager,
  opts: { multi_last: string[]; up_to_seq?: number } | { seq: number; next_by_subj: string; batch: number },
): Promise<StoredMsg[]> {
  return new Promise((resolve, reject) => {
    const got: StoredMsg[] = [];
    const callback = (done: { err?: Error } | null, m: StoredMsg) => {
      if (done) return done.err ? reject(done.err) : resolve(got);
      got.push(m);
    };
    const started =
      "multi_last" in opts
        ? jsm.direct.getLastMessagesFor(ORDERS_STREAM, { ...opts, callback })
        : jsm.direct.getBatch(ORDERS_STREAM, { ...opts, callback });
    started.catch(reject);
  });
}

/** The order's events in stream order, from `fromSeq` on. Empty for an unknown order. */
export async function readOrderEvents(jsm: JetStreamManager, orderId: string, fromSeq = 0): Promise<StoredEvent[]> {
  const messages = (await ordersReplicated(jsm))
    ? await Promise.all(EVENT_TYPES.map((type) => getOrdersMessage(jsm, { last_by_subj: eventSubject(orderId, type) })))
    : await directBatch(jsm, { multi_last: [orderSubjectFilter(orderId)] });
  return messages
    .filter((m): m is StoredMsg => m !== null && m.seq >= fromSeq)
    .map(toStoredEvent)
    .filter((e): e is StoredEvent => e !== null)
    .sort((a, b) => a.seq - b.seq);
}

/** Messages asked for per batch of a partition read. */
const RANGE_BATCH = 512;

/**
 * The messages of one partition with sequences in [fromSeq, toSeq], in order (raw: the caller
 * validates), under each of `filters` (one per subject form the consumer holds, nats/subjects.ts
 * partitionSubjectFilters: the plain one, and at the hub the sites' too). On a single replica, batch
 * direct gets; on a replicated stream, the leader's "next message of the partition" one at a time (a
 * lagging follower could leave out the newest ones, which are exactly what a new partition owner
 * reads this for).
 */
export async function readPartitionRange(
  jsm: JetStreamManager,
  filters: readonly string[],
  fromSeq: number,
  toSeq: number,
): Promise<StoredMsg[]> {
  if (toSeq < fromSeq) return [];
  const replicated = await ordersReplicated(jsm);
  const parts = await Promise.all(filters.map((filter) => readFilteredRange(jsm, replicated, filter, fromSeq, toSeq)));
  return parts.length === 1 ? parts[0]! : parts.flat().sort((a, b) => a.seq - b.seq);
}

async function readFilteredRange(
  jsm: JetStreamManager,
  replicated: boolean,
  filter: string,
  fromSeq: number,
  toSeq: number,
): Promise<StoredMsg[]> {
  const out: StoredMsg[] = [];
  if (replicated) {
    for (let next = fromSeq; next <= toSeq; ) {
      // STREAM.MSG.GET takes `next_by_subj` like a direct get; nats.js 3.4's type leaves it out.
      const m = await jsm.streams.getMessage(ORDERS_STREAM, { seq: next, next_by_subj: filter } as unknown as { seq: number });
      if (!m || m.seq > toSeq) break;
      out.push(m);
      next = m.seq + 1;
    }
    return out;
  }
  for (let next = fromSeq; next <= toSeq; ) {
    // With several filters one may hold nothing in the range: the server answers 404 to that batch.
    const batch = await directBatch(jsm, { seq: next, next_by_subj: filter, batch: RANGE_BATCH }).catch((err: unknown) =>
      (err as { code?: unknown }).code === 404 ? [] : Promise.reject(err),
    );
    for (const m of batch) if (m.seq <= toSeq) out.push(m);
    const last = batch.at(-1);
    if (!last || batch.length < RANGE_BATCH) break;
    next = last.seq + 1;
  }
  return out;
}
