/**
 * Rebuilds the order view from the ORDERS stream, sequence 1 on: reads the stream with an ordered
 * consumer (the fastest way to read a stream), folds every order in memory with the same `evolve`
 * the live projection uses, then writes each order once. A write never goes backwards: an entry the
 * live service has already moved past the rebuilt sequence is left alone (compare-and-set on its
 * revision), so rebuilding while the system runs is safe.
 *
 * Speed (bench/replay.ts): messages are taken in the consumer's callback (no async iteration per
 * message), and the writes are guarded publishes pipelined thousands at a time
 * (nats/kv-write-pipe.ts) that start while the stream is still being read: an order that reached
 * SHIPPING_READY or CANCELLED rarely changes again, so its view is created at once (so the server
 * stores it while the client reads on); should a later event change it after all, the view is
 * replaced at the end with a compare-and-set on the revision that create returned. Every other
 * order is created at the end. Only an entry that already existed (or whose write got no answer)
 * goes through the load + compare-and-set path of the live service. The price: should a rebuild
 * stop half-way, such an order may be left at an earlier (true, but not last) view rather than
 * missing, until rebuild-view runs again.
 */
import { DeliverPolicy, type JetStreamClient, type JetStreamManager, type JsMsg } from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import { ORDERS_STREAM } from "../../nats/subjects.ts";
import { createOrderStateStore, StaleStateError, type Stored } from "../../nats/order-state.ts";
import { traceIdOf } from "../../nats/order-history.ts";
import { decodeEvent } from "../../nats/partitioned-consumer.ts";
import { openKvWritePipe, type KvWritePipe } from "../../nats/kv-write-pipe.ts";
import { evolve, type OrderState } from "./domain/order.ts";

export interface RebuildProgress {
  phase: "reading" | "writing" | "done";
  events: number;
  lastSeq: number;
  orders: number;
  written: number;
  skipped: number;
  invalid: number;
  /** Entries that went through load + compare-and-set: the key existed, or its create got no answer. */
  fallbacks: number;
}

/** Messages asked for per pull of the ordered consumer. */
const PULL_BATCH = 4_096;
const PROGRESS_EVERY = 10_000;

const NONE = 0; // nothing sent yet
const SENT = 1; // a guarded write is in flight
const WRITTEN = 2; // the bucket holds the view of `writtenSeq`, at `revision`
const REFUSED = 3; // the key existed (or moved on): load + compare-and-set
const UNKNOWN = 4; // the write got no answer: create, else load + compare-and-set

/** One order being rebuilt, and what is known about its entry in the bucket. */
interface Rebuilt {
  orderId: string;
  state: OrderState;
  lastSeq: number;
  write: number;
  writtenSeq: number;
  revision: number;
  /** counted in `progress.written` */
  counted: boolean;
}

export async function rebuildOrderView(
  js: JetStreamClient,
  jsm: JetStreamManager,
  kv: KV,
  onProgress: (p: RebuildProgress) => void = () => {},
  writeConcurrency = 512,
): Promise<RebuildProgress> {
  const info = await jsm.streams.info(ORDERS_STREAM);
  const endSeq = info.state.last_seq;
  const progress: RebuildProgress = { phase: "reading", events: 0, lastSeq: 0, orders: 0, written: 0, skipped: 0, invalid: 0, fallbacks: 0 };
  const report = () => {
    if ((progress.written + progress.skipped) % PROGRESS_EVERY === 0) onProgress({ ...progress });
  };
  const orders: Rebuilt[] = [];
  const pipe = openKvWritePipe(kv, (token, revision) => {
    const order = orders[token]!;
    if (revision === 0) {
      order.write = REFUSED;
    } else {
      order.write = WRITTEN;
      order.revision = revision;
      if (!order.counted) {
        order.counted = true;
        progress.written++;
        report();
      }
    }
  });
  try {
    if (info.state.messages > 0) await readAll(js, endSeq, orders, pipe, progress, onProgress);
    progress.orders = orders.length;
    progress.phase = "writing";
    onProgress({ ...progress });
    if (pipe) await writeAll(pipe, orders);
    await writeSlowly(kv, orders, progress, report, writeConcurrency);
  } finally {
    pipe?.close();
  }
  progress.phase = "done";
  onProgress({ ...progress });
  return progress;
}

/** The view as stored in the bucket (`Stored<OrderState>`). */
const body = (order: Rebuilt) => JSON.stringify({ state: order.state, lastSeq: order.lastSeq } satisfies Stored<OrderState>);

/** Orders that rarely change again: worth writing before the stream is read to its end. */
const settled = (state: OrderState) => state?.status === "SHIPPING_READY" || state?.status === "CANCELLED";

/** Folds every event up to `endSeq`, validated as the live projection validates them; writes settled orders early. */
async function readAll(
  js: JetStreamClient,
  endSeq: number,
  orders: Rebuilt[],
  pipe: KvWritePipe | null,
  progress: RebuildProgress,
  onProgress: (p: RebuildProgress) => void,
): Promise<void> {
  const byId = new Map<string, Rebuilt>();
  const apply = (m: JsMsg) => {
    const event = decodeEvent(m);
    if (typeof event === "string") {
      progress.invalid++;
    } else {
      let order = byId.get(event.orderId);
      if (!order) {
        order = { orderId: event.orderId, state: null, lastSeq: 0, write: NONE, writtenSeq: 0, revision: 0, counted: false };
        byId.set(event.orderId, order);
        orders.push(order);
      }
      const next = evolve(order.state, event);
      if (next && event.eventType === "ORDER_CREATED") next.traceId = traceIdOf(m.headers?.get("traceparent")) ?? undefined;
      order.state = next;
      order.lastSeq = m.seq;
      // Only while the window has room: the read never waits for a write.
      if (pipe && order.write === NONE && settled(next) && pipe.offer(orders.length - 1, order.orderId, body(order), 0)) {
        order.write = SENT;
        order.writtenSeq = order.lastSeq;
      }
    }
    progress.events++;
    progress.lastSeq = m.seq;
    if (progress.events % PROGRESS_EVERY === 0) onProgress({ ...progress, orders: orders.length });
  };
  const consumer = await js.consumers.get(ORDERS_STREAM, { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: 1 });
  let finished = false;
  const messages = await consumer.consume({
    max_messages: PULL_BATCH,
    callback: (m) => {
      if (finished) return;
      apply(m);
      if (m.seq >= endSeq || m.info.pending === 0) {
        finished = true;
        messages.stop();
      }
    },
  });
  const closed = await messages.closed();
  if (!finished) throw closed instanceof Error ? closed : new Error(`reading ${ORDERS_STREAM} stopped at sequence ${progress.lastSeq} of ${endSeq}`);
}

/** Creates every order not written yet, and replaces the early ones that changed since. */
async function writeAll(pipe: KvWritePipe, orders: Rebuilt[]): Promise<void> {
  // The early writes' revisions are needed to replace them.
  for (const token of await pipe.settle()) orders[token]!.write = UNKNOWN;
  for (let token = 0; token < orders.length; token++) {
    const order = orders[token]!;
    if (order.write === NONE || (order.write === WRITTEN && order.writtenSeq < order.lastSeq)) {
      const revision = order.write === NONE ? 0 : order.revision;
      // Awaiting only when the window is full keeps the publishes together: one socket write per
      // 32 KB instead of one per entry (nats.js flushes whenever the loop yields).
      if (!pipe.offer(token, order.orderId, body(order), revision)) await pipe.write(token, order.orderId, body(order), revision);
      order.write = SENT;
      order.writtenSeq = order.lastSeq;
    }
  }
  for (const token of await pipe.settle()) orders[token]!.write = UNKNOWN;
}

/**
 * The load + compare-and-set path, for every order the pipe did not write (all of them without a
 * pipe): an entry the live service already moved to or past the rebuilt sequence is left alone.
 */
async function writeSlowly(
  kv: KV,
  orders: Rebuilt[],
  progress: RebuildProgress,
  report: () => void,
  writeConcurrency: number,
): Promise<void> {
  const slow = orders.filter((o) => o.write !== WRITTEN);
  progress.fallbacks = slow.length;
  const store = createOrderStateStore<OrderState>(kv);
  /** Writes one rebuilt entry unless the live entry is already at or past it. */
  const writeOne = async (order: Rebuilt): Promise<"written" | "skipped"> => {
    const rebuilt: Stored<OrderState> = { state: order.state, lastSeq: order.lastSeq };
    // A create is one round trip, and most rebuilds start from an empty (purged) bucket.
    let revision = 0;
    let exists = order.write === REFUSED;
    for (let attempt = 0; attempt < 5; attempt++) {
      if (!exists) {
        try {
          await store.save(order.orderId, rebuilt, revision);
          return "written";
        } catch (err) {
          if (!(err instanceof StaleStateError)) throw err;
        }
      }
      exists = false;
      const current = await store.load(order.orderId);
      if (current.stored?.state && current.stored.lastSeq >= rebuilt.lastSeq) return "skipped";
      revision = current.revision;
    }
    throw new Error(`order ${order.orderId}: its view kept changing while being rebuilt; run rebuild-view again`);
  };
  let next = 0;
  const worker = async () => {
    while (next < slow.length) {
      const order = slow[next++]!;
      const outcome = await writeOne(order);
      if (outcome === "written" && !order.counted) progress.written++;
      if (outcome === "skipped") {
        if (order.counted) progress.written--;
        progress.skipped++;
      }
      order.counted = outcome === "written";
      report();
    }
  };
  await Promise.all(Array.from({ length: Math.min(writeConcurrency, slow.length) }, worker));
}
