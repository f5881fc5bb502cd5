/**
 * `rebuild-view`: every order's view folded again from sequence 1 of the ORDERS stream, with the
 * same validation and `evolve` that GET /orders/{id} uses. The view is not stored anywhere: the API
 * folds an order's own events on every read, so there is nothing to repair. What the rebuild gives
 * an operator is the check of the whole stream (every event valid, every order's history starting
 * with its ORDER_CREATED) and the count of orders by status, and it is the replay benchmark.
 *
 * Speed: an ordered consumer (the fastest way to read a stream), messages taken in its callback.
 */
import { DeliverPolicy, type JetStreamClient, type JetStreamManager, type JsMsg } from "@nats-io/jetstream";
import { ORDERS_STREAM } from "../../nats/subjects.ts";
import { decodeEvent } from "../../nats/delivery.ts";
import { evolve, type OrderState, type OrderStatus } from "./domain/order.ts";

export interface RebuildProgress {
  phase: "reading" | "done";
  events: number;
  /** Messages in the stream up to its last sequence at the start: what `events` will reach. */
  total: number;
  lastSeq: number;
  orders: number;
  /** Messages that are not valid order events (they are skipped, as the API skips them). */
  invalid: number;
  /** Orders whose events came before their ORDER_CREATED (or without one). */
  orphans: number;
  byStatus: Record<OrderStatus, number>;
}

/** Messages asked for per pull of the ordered consumer. */
const PULL_BATCH = 4_096;
const PROGRESS_EVERY = 10_000;

/**
 * Folds every order from sequence 1 up to the stream's last sequence at the start. Progress is
 * reported once before reading (events 0 of total), every 10,000 events, and when done.
 */
export async function rebuildOrderViews(
  js: JetStreamClient,
  jsm: JetStreamManager,
  onProgress: (p: RebuildProgress) => void = () => {},
): Promise<RebuildProgress> {
  const { state } = await jsm.streams.info(ORDERS_STREAM);
  const endSeq = state.last_seq;
  const views = new Map<string, OrderState>();
  const orphaned = new Set<string>();
  const progress: RebuildProgress = {
    phase: "reading",
    events: 0,
    total: state.messages,
    lastSeq: 0,
    orders: 0,
    invalid: 0,
    orphans: 0,
    byStatus: { CREATED: 0, PAID: 0, SHIPPING_READY: 0, CANCELLED: 0 },
  };
  const snapshot = () => ({ ...progress, orders: views.size, byStatus: { ...progress.byStatus } });
  const apply = (m: JsMsg) => {
    const event = decodeEvent(m);
    if (typeof event === "string") {
      progress.invalid++;
    } else {
      const view = evolve(views.get(event.orderId) ?? null, event);
      if (!view) orphaned.add(event.orderId);
      views.set(event.orderId, view);
    }
    progress.events++;
    progress.lastSeq = m.seq;
    if (progress.events % PROGRESS_EVERY === 0) onProgress(snapshot());
  };
  if (endSeq > 0) {
    onProgress(snapshot());
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
    if (!finished)
      throw closed instanceof Error ? closed : new Error(`reading ${ORDERS_STREAM} stopped at sequence ${progress.lastSeq} of ${endSeq}`);
  }
  for (const view of views.values()) if (view) progress.byStatus[view.status]++;
  progress.orphans = orphaned.size;
  progress.phase = "done";
  const result = snapshot();
  onProgress(result);
  return result;
}
