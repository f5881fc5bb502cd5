/**
 * Which orders are slow, for the outcome sampling policy (otel/outcome-sampling.ts): an order whose
 * time from ORDER_CREATED to SHIPPING_READY (the `occurredAt` of each, set where each was decided)
 * is above the p99 of the last 5,000 orders this instance timed. Judged by a service that handles both
 * events (the notification service); its verdict keeps the order's trace whole in every service.
 *
 * Pure: the caller passes the events in; no clock, no I/O.
 */
import type { EventType } from "../shared/events.ts";

/**
 * Orders of the rolling window the p99 is taken over: long enough that a burst of slow orders (a
 * pause of the machine holds up dozens at once) does not set the bar, a few seconds at full load.
 */
const WINDOW = 5_000;
/** The threshold is taken again after this many orders (a sort of the window: well under a µs an order). */
const REFRESH_EVERY = 250;
/** Until this many orders were timed, every order counts as slow: there is no p99 to hold it to yet. */
const MIN_TIMED = 100;
/** Creations remembered while their order runs (a bound: orders whose end this instance never sees). */
const MAX_OPEN = 16_384;

export class SlowOrderJudge {
  private readonly createdAt = new Map<string, number>();
  private readonly latencies: number[] = [];
  private next = 0;
  private timed = 0;
  private threshold = Number.POSITIVE_INFINITY;

  /** Tells the judge of one handled event; true when it ends a slow order. */
  observe(eventType: EventType, orderId: string, occurredAt: string): boolean {
    if (eventType === "ORDER_CREATED") {
      this.createdAt.set(orderId, Date.parse(occurredAt));
      if (this.createdAt.size > MAX_OPEN) this.createdAt.delete(this.createdAt.keys().next().value as string);
      return false;
    }
    if (eventType === "ORDER_CANCELLED") this.createdAt.delete(orderId);
    if (eventType !== "SHIPPING_READY") return false;
    const created = this.createdAt.get(orderId);
    if (created === undefined) return false;
    this.createdAt.delete(orderId);
    return this.timedOrder(Date.parse(occurredAt) - created);
  }

  /** The p99 the orders are held to now (Infinity until enough orders were timed). */
  p99Ms(): number {
    return this.threshold;
  }

  private timedOrder(ms: number): boolean {
    // Judged against the threshold from before this order, so a single order is never its own yardstick.
    const slow = this.timed < MIN_TIMED || ms > this.threshold;
    this.latencies[this.next] = ms;
    this.next = (this.next + 1) % WINDOW;
    this.timed++;
    if (this.timed === MIN_TIMED || (this.timed > MIN_TIMED && this.timed % REFRESH_EVERY === 0)) {
      const sorted = Float64Array.from(this.latencies).sort();
      this.threshold = sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * 0.99) - 1)]!;
    }
    return slow;
  }
}
