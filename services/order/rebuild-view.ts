/**
 * Rebuilds the order view from the ORDERS stream, sequence 1 on: reads the stream with an ordered
 * consumer (the fastest way to read a stream), folds every order in memory with the same `evolve`
 * the live projection uses, then writes each order once. A write never goes backwards: an entry the
 * live service has already moved past the rebuilt sequence is left alone (compare-and-set on its
 * revision), so rebuilding while the system runs is safe.
 */
import { DeliverPolicy, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import { parseEvent } from "../../shared/events.ts";
import { ORDERS_STREAM } from "../../nats/subjects.ts";
import { createOrderStateStore, StaleStateError, type Stored } from "../../nats/order-state.ts";
import { traceIdOf } from "../../nats/order-history.ts";
import { evolve, type OrderState } from "./domain/order.ts";

export interface RebuildProgress {
  phase: "reading" | "writing" | "done";
  events: number;
  lastSeq: number;
  orders: number;
  written: number;
  skipped: number;
  invalid: number;
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
  const progress: RebuildProgress = { phase: "reading", events: 0, lastSeq: 0, orders: 0, written: 0, skipped: 0, invalid: 0 };
  const views = new Map<string, Stored<OrderState>>();
  if (info.state.messages > 0) {
    const consumer = await js.consumers.get(ORDERS_STREAM, { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: 1 });
    const messages = await consumer.consume({ max_messages: 2_000 });
    for await (const m of messages) {
      const parsed = parseEvent(m.json());
      if (parsed.ok) {
        const event = parsed.event;
        const current = views.get(event.orderId) ?? { state: null, lastSeq: 0 };
        const next = evolve(current.state, event);
        if (next && event.eventType === "ORDER_CREATED") next.traceId = traceIdOf(m.headers?.get("traceparent")) ?? undefined;
        views.set(event.orderId, { state: next, lastSeq: m.seq });
      } else {
        progress.invalid++;
      }
      progress.events++;
      progress.lastSeq = m.seq;
      if (progress.events % 10_000 === 0) onProgress({ ...progress, orders: views.size });
      if (m.seq >= endSeq || m.info.pending === 0) break;
    }
    messages.stop();
  }
  progress.orders = views.size;
  progress.phase = "writing";
  onProgress({ ...progress });
  const store = createOrderStateStore<OrderState>(kv);
  const entries = [...views.entries()];
  let next = 0;
  /** Writes one rebuilt entry unless the live entry is already at or past it. */
  const writeOne = async (orderId: string, rebuilt: Stored<OrderState>): Promise<"written" | "skipped"> => {
    // Most rebuilds start from an empty (purged) bucket: a create is one round trip.
    let revision = 0;
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        await store.save(orderId, rebuilt, revision);
        return "written";
      } catch (err) {
        if (!(err instanceof StaleStateError)) throw err;
      }
      const current = await store.load(orderId);
      if (current.stored?.state && current.stored.lastSeq >= rebuilt.lastSeq) return "skipped";
      revision = current.revision;
    }
    throw new Error(`order ${orderId}: its view kept changing while being rebuilt; run rebuild-view again`);
  };
  const worker = async () => {
    while (next < entries.length) {
      const [orderId, rebuilt] = entries[next++]!;
      if ((await writeOne(orderId, rebuilt)) === "written") progress.written++;
      else progress.skipped++;
      if ((progress.written + progress.skipped) % 10_000 === 0) onProgress({ ...progress });
    }
  };
  await Promise.all(Array.from({ length: writeConcurrency }, worker));
  progress.phase = "done";
  onProgress({ ...progress });
  return progress;
}
