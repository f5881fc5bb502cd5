/**
 * HTTP load with autocannon, and what it did end to end, read back from the ORDERS stream.
 *
 * autocannon's `overallRate` is a per-connection budget per second that each connection spends back
 * to back at the start of its second, and every connection's second starts at the same moment: one
 * instance at 200 orders/s sends 200 requests in a burst, then idles. To offer a load that is close
 * to even, the rate is split over up to 20 autocannon instances started 1000/K ms apart.
 */
import { performance } from "node:perf_hooks";
import autocannon from "autocannon";
import { DeliverPolicy, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream";
import { NOTIFICATIONS_STREAM, ORDERS_STREAM } from "../nats/subjects.ts";

export interface HttpLoadOptions {
  url: string;
  /** Offered orders/s; 0 = as fast as `connections` closed-loop connections go. */
  rate: number;
  /** Seconds of load (ignored when `amount` is set). */
  durationS: number;
  /** Send exactly this many requests instead (closed loop, `connections` wide). */
  amount?: number;
  connections?: number;
  /** Spread `rate` over staggered instances (default true); false = one instance, bursts each second. */
  paced?: boolean;
  /** The POST body of every request (default: orderBody, one user per autocannon instance). */
  body?: string;
}

export interface HttpLoadResult {
  sent: number;
  ok: number;
  non2xx: number;
  errors: number;
  /** ms */
  latency: { p50: number; p90: number; p99: number; max: number };
  seconds: number;
}

/** The order body POSTed by the bench: one item, so ORDER_CREATED is about 300 bytes. */
export function orderBody(userId: string): string {
  return JSON.stringify({ userId, amount: 25.5, currency: "USD", items: [{ sku: "BENCH-1", quantity: 2, unitPrice: 12.75 }] });
}

/** The seed's order body: no items, one user for every request — the load shape frameworks are compared on. */
export const SEED_BODY = JSON.stringify({ userId: "abc", amount: 100 });

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length) - 1;
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank))]!;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Drives POST /orders; per-request latencies are collected from every instance's `response` events. */
export async function httpLoad(opts: HttpLoadOptions): Promise<HttpLoadResult> {
  const latencies: number[] = [];
  let ok = 0;
  let non2xx = 0;
  let errors = 0;
  const runOne = (i: number, extra: Partial<autocannon.Options>): Promise<autocannon.Result> => {
    const instance = autocannon({
      url: opts.url,
      requests: [
        { method: "POST", path: "/orders", headers: { "content-type": "application/json" }, body: opts.body ?? orderBody(`bench-u${i}`) },
      ],
      timeout: 30,
      ...extra,
    } as autocannon.Options) as unknown as autocannon.Instance & Promise<autocannon.Result>;
    instance.on("response", (_client, statusCode, _bytes, responseTime) => {
      latencies.push(responseTime);
      if (statusCode >= 200 && statusCode < 300) ok++;
      else non2xx++;
    });
    instance.on("reqError", () => errors++);
    return instance;
  };
  const started = performance.now();
  if (opts.amount !== undefined || opts.rate <= 0) {
    const extra = opts.amount !== undefined ? { amount: opts.amount } : { duration: opts.durationS };
    await runOne(0, { connections: opts.connections ?? 32, ...extra });
  } else if (opts.paced === false) {
    await runOne(0, {
      overallRate: opts.rate,
      connections: opts.connections ?? Math.min(256, Math.max(1, Math.ceil(opts.rate / 8))),
      duration: opts.durationS,
    });
  } else {
    const k = Math.max(1, Math.min(20, Math.floor(opts.rate / 10)));
    const runs: Promise<autocannon.Result>[] = [];
    for (let i = 0; i < k; i++) {
      const rate = Math.floor(opts.rate / k) + (i < opts.rate % k ? 1 : 0);
      // A connection sends its share of each second back to back and drops what it could not send
      // by the next tick; ~8 requests per connection per second leave room for slow answers (≤ 125 ms).
      const connections = Math.max(1, Math.ceil(rate / 8));
      runs.push(runOne(i, { overallRate: rate, connections, duration: opts.durationS }));
      await sleep(1000 / k);
    }
    await Promise.all(runs);
  }
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    sent: latencies.length + errors,
    ok,
    non2xx,
    errors,
    latency: {
      p50: percentile(latencies, 50),
      p90: percentile(latencies, 90),
      p99: percentile(latencies, 99),
      max: latencies.at(-1) ?? NaN,
    },
    seconds,
  };
}

/**
 * Waits until every durable consumer of every stream has nothing pending and nothing unacked (twice in
 * a row). The consumers are only asked once no stream has grown since the last look: while the
 * services work, some stream's last sequence moves (events, notifications). That keeps the bench
 * from loading the server it measures: a consumer info walks the consumer's filtered backlog, and
 * asking the 64 partition consumers often under a backlog took more of the server than the services.
 */
export async function waitDrained(jsm: JetStreamManager, timeoutMs: number): Promise<{ drained: boolean; ms: number; pending: number }> {
  const started = performance.now();
  const consumerBacklog = async () => {
    let pending = 0;
    for await (const stream of jsm.streams.list()) {
      for await (const c of jsm.consumers.list(stream.config.name)) {
        if (c.config.durable_name) pending += c.num_pending + c.num_ack_pending;
      }
    }
    return pending;
  };
  const streamMarks = async () => {
    const marks: string[] = [];
    for await (const stream of jsm.streams.list()) marks.push(`${stream.config.name}:${stream.state.last_seq}`);
    return marks.join(" ");
  };
  let zeroes = 0;
  let before = "";
  for (;;) {
    const marks = await streamMarks();
    const quiet = marks === before;
    before = marks;
    const pending = quiet ? await consumerBacklog() : -1;
    zeroes = pending === 0 ? zeroes + 1 : 0;
    const ms = performance.now() - started;
    if (zeroes >= 2) return { drained: true, ms, pending };
    if (ms > timeoutMs) return { drained: false, ms, pending: pending >= 0 ? pending : await consumerBacklog() };
    await sleep(100);
  }
}

/** One order of a run: when it was created (event time and stream time) and when it reached SHIPPING_READY. */
export interface OrderTimes {
  occurredMs: number;
  createdMs: number;
  /** stream time of PAYMENT_COMPLETED, NaN when the order was not paid */
  paidMs: number;
  /** stream time of SHIPPING_READY, NaN when the order did not get there */
  doneMs: number;
}

export interface PhaseEvents {
  orders: OrderTimes[];
  cancelled: number;
}

/** Reads the ORDERS stream from `fromSeq` with an ordered consumer: each order's ORDER_CREATED, PAYMENT_COMPLETED and SHIPPING_READY times. */
export async function readPhaseEvents(js: JetStreamClient, jsm: JetStreamManager, fromSeq: number): Promise<PhaseEvents> {
  const endSeq = (await jsm.streams.info(ORDERS_STREAM)).state.last_seq;
  const orders = new Map<string, OrderTimes>();
  let cancelled = 0;
  if (endSeq >= fromSeq) {
    const consumer = await js.consumers.get(ORDERS_STREAM, { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: fromSeq });
    const messages = await consumer.consume({ max_messages: 2_000 });
    for await (const m of messages) {
      const [, , orderId, eventType] = m.subject.split(".");
      const streamMs = Number(m.timestampNanos) / 1e6;
      if (eventType === "ORDER_CREATED") {
        const event = m.json<{ occurredAt: string }>();
        orders.set(orderId!, { occurredMs: Date.parse(event.occurredAt), createdMs: streamMs, paidMs: NaN, doneMs: NaN });
      } else if (eventType === "PAYMENT_COMPLETED") {
        // An order's ORDER_CREATED comes before its other events in the stream.
        const o = orders.get(orderId!);
        if (o) o.paidMs = streamMs;
      } else if (eventType === "SHIPPING_READY") {
        const o = orders.get(orderId!);
        if (o) o.doneMs = streamMs;
      } else if (eventType === "ORDER_CANCELLED") {
        cancelled++;
      }
      if (m.seq >= endSeq || m.info.pending === 0) break;
    }
    messages.stop();
  }
  return { orders: [...orders.values()].sort((a, b) => a.createdMs - b.createdMs), cancelled };
}

export interface PhaseStats {
  created: number;
  completed: number;
  /** ORDER_CREATED occurredAt → SHIPPING_READY stream time, ms, sorted */
  latencies: number[];
  firstCreatedMs: number;
  lastCreatedMs: number;
  lastCompletedMs: number;
  /** ORDER_CREATED per second between the first and the last */
  createdPerSec: number;
  /** SHIPPING_READY per second between the 20th and 80th percentile of completion times (ramp and tail left out) */
  midCompletionPerSec: number;
  /** most ORDER_CREATED in any 100 ms bucket, and the mean per bucket (how even the offered load was) */
  arrivalsPer100ms: { max: number; mean: number };
  /**
   * Each hop of a completed order, ms, sorted: `order` its occurredAt → ORDER_CREATED stored,
   * `payment` → PAYMENT_COMPLETED stored, `shipping` → SHIPPING_READY stored (where a tail comes from).
   */
  hops: { order: number[]; payment: number[]; shipping: number[] };
}

/** Statistics over the orders created within [fromMs, toMs) (default: all). */
export function phaseStats(all: readonly OrderTimes[], fromMs = -Infinity, toMs = Infinity): PhaseStats {
  const orders = all.filter((o) => o.createdMs >= fromMs && o.createdMs < toMs);
  const latencies: number[] = [];
  const hops = { order: [] as number[], payment: [] as number[], shipping: [] as number[] };
  let lastCompletedMs = NaN;
  for (const o of orders) {
    if (Number.isNaN(o.doneMs)) continue;
    latencies.push(o.doneMs - o.occurredMs);
    if (!(o.doneMs <= lastCompletedMs)) lastCompletedMs = o.doneMs;
    if (Number.isNaN(o.paidMs)) continue;
    hops.order.push(o.createdMs - o.occurredMs);
    hops.payment.push(o.paidMs - o.createdMs);
    hops.shipping.push(o.doneMs - o.paidMs);
  }
  latencies.sort((a, b) => a - b);
  for (const hop of Object.values(hops)) hop.sort((a, b) => a - b);
  const doneTimes = orders
    .map((o) => o.doneMs)
    .filter((t) => !Number.isNaN(t))
    .sort((a, b) => a - b);
  const i1 = Math.floor(doneTimes.length * 0.2);
  const i2 = Math.floor(doneTimes.length * 0.8);
  const midCompletionPerSec = doneTimes.length >= 20 ? (i2 - i1) / Math.max(0.001, (doneTimes[i2]! - doneTimes[i1]!) / 1000) : NaN;
  const first = orders[0]?.createdMs ?? NaN;
  const last = orders.at(-1)?.createdMs ?? NaN;
  const buckets = new Map<number, number>();
  for (const o of orders) {
    const b = Math.floor((o.createdMs - first) / 100);
    buckets.set(b, (buckets.get(b) ?? 0) + 1);
  }
  const spanMs = Math.max(1, last - first);
  return {
    created: orders.length,
    completed: latencies.length,
    latencies,
    firstCreatedMs: first,
    lastCreatedMs: last,
    lastCompletedMs,
    createdPerSec: orders.length > 1 ? (orders.length - 1) / (spanMs / 1000) : NaN,
    midCompletionPerSec,
    arrivalsPer100ms: { max: Math.max(0, ...buckets.values()), mean: orders.length / Math.max(1, Math.ceil(spanMs / 100)) },
    hops,
  };
}

/** SHIPPING_READY messages in ORDERS, counted the way an operator would: one subject per completed order. */
export async function countShippingReady(jsm: JetStreamManager): Promise<number> {
  const info = await jsm.streams.info(ORDERS_STREAM, { subjects_filter: "orders.*.*.SHIPPING_READY" });
  return Object.keys(info.state.subjects ?? {}).length;
}

export async function streamMessages(jsm: JetStreamManager, stream: string): Promise<{ messages: number; lastSeq: number }> {
  try {
    const info = await jsm.streams.info(stream);
    return { messages: info.state.messages, lastSeq: info.state.last_seq };
  } catch {
    return { messages: 0, lastSeq: 0 };
  }
}

/** Stream time (ms) of the last NOTIFICATIONS message. */
export async function lastNotificationMs(jsm: JetStreamManager): Promise<number> {
  const { lastSeq } = await streamMessages(jsm, NOTIFICATIONS_STREAM);
  if (!lastSeq) return NaN;
  const m = await jsm.streams.getMessage(NOTIFICATIONS_STREAM, { seq: lastSeq });
  return m ? m.time.getTime() : NaN;
}
