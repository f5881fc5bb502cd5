import { describe, expect, it } from "vitest";
import { OrderScheduler, type Schedulable } from "./order-scheduler.ts";

interface Ev extends Schedulable {
  name: string;
  order: string;
}

const ev = (order: string, n: number, suspect = false): Ev => ({ name: `${order}${n}`, order, suspect });

/** Starts whatever may start; returns the names started. */
function startAll(s: OrderScheduler<Ev>, running: Ev[]): string[] {
  const started: string[] = [];
  for (let e = s.next(); e !== undefined; e = s.next()) {
    running.push(e);
    started.push(e.name);
  }
  return started;
}

/**
 * Runs the scheduler to the end like the worker does: finishes the oldest running event, goes on
 * with its order when allowed, starts what may start. Returns the finishing order, or throws when
 * nothing runs while events wait (a stall), bounded in steps.
 */
function drive(s: OrderScheduler<Ev>, opts: { onStart?: (running: Ev[]) => void } = {}): string[] {
  const running: Ev[] = [];
  const log: string[] = [];
  startAll(s, running);
  for (let step = 0; step < 10_000 && !s.idle; step++) {
    opts.onStart?.(running);
    const e = running.shift();
    if (e === undefined) throw new Error(`stalled with ${s.pendingSuspects} suspects pending and nothing running`);
    log.push(e.name);
    const next = s.finished(e.order);
    if (next) running.push(next);
    startAll(s, running);
  }
  return log;
}

describe("OrderScheduler", () => {
  it("given several orders, then their first events start together and each order's events run one after the other", () => {
    const s = new OrderScheduler<Ev>(8);
    const a1 = ev("a", 1);
    s.add("a", a1);
    s.add("a", ev("a", 2));
    s.add("b", ev("b", 1));
    const running: Ev[] = [];
    expect(startAll(s, running)).toEqual(["a1", "b1"]);
    // a2 waits for a1, whatever finishes first.
    s.add("a", ev("a", 3));
    expect(startAll(s, running)).toEqual([]);
    expect(s.finished("b")).toBeUndefined();
    expect(s.finished("a")?.name).toBe("a2");
    expect(s.running).toBe(1);
  });

  it("given more orders than slots, then the rest start in arrival order as running orders end", () => {
    const s = new OrderScheduler<Ev>(2);
    for (const o of ["a", "b", "c", "d"]) s.add(o, ev(o, 1));
    const running: Ev[] = [];
    expect(startAll(s, running)).toEqual(["a1", "b1"]);
    expect(s.finished("b")).toBeUndefined();
    expect(startAll(s, running)).toEqual(["c1"]);
    expect(s.finished("a")).toBeUndefined();
    expect(startAll(s, running)).toEqual(["d1"]);
    expect(s.running).toBe(2);
  });

  it("given an order with more events, then it keeps its slot from one to the next (no suspects)", () => {
    const s = new OrderScheduler<Ev>(1);
    s.add("a", ev("a", 1));
    s.add("a", ev("a", 2));
    s.add("b", ev("b", 1));
    expect(drive(s)).toEqual(["a1", "a2", "b1"]);
  });

  it("given events finished out of order across orders, then each order still sees its own in order", () => {
    const s = new OrderScheduler<Ev>(4);
    for (let n = 1; n <= 3; n++) for (const o of ["a", "b", "c"]) s.add(o, ev(o, n));
    const log = drive(s, { onStart: (running) => running.reverse() });
    for (const o of ["a", "b", "c"]) expect(log.filter((n) => n.startsWith(o))).toEqual([`${o}1`, `${o}2`, `${o}3`]);
  });

  it("given a suspect, then it waits for the running events to end and runs alone, and nothing new starts meanwhile", () => {
    const s = new OrderScheduler<Ev>(8);
    s.add("a", ev("a", 1));
    const running: Ev[] = [];
    startAll(s, running);
    s.add("x", ev("x", 1, true));
    s.add("b", ev("b", 1));
    expect(startAll(s, running)).toEqual([]);
    expect(s.finished("a")).toBeUndefined();
    expect(startAll(s, running)).toEqual(["x1"]);
    expect(s.finished("x")).toBeUndefined();
    expect(s.pendingSuspects).toBe(0);
    expect(startAll(s, running)).toEqual(["b1"]);
  });

  it("given several suspects, then they run one at a time, in arrival order", () => {
    const s = new OrderScheduler<Ev>(8);
    s.add("x", ev("x", 1, true));
    s.add("y", ev("y", 1, true));
    s.add("z", ev("z", 1));
    const concurrency: number[] = [];
    expect(drive(s, { onStart: (r) => concurrency.push(r.length) })).toEqual(["x1", "y1", "z1"]);
    expect(Math.max(...concurrency)).toBe(1);
  });

  it("given an order with an ordinary event ahead of its suspect, then that event runs alone too instead of blocking the suspect", () => {
    const s = new OrderScheduler<Ev>(8);
    s.add("a", ev("a", 1));
    s.add("a", ev("a", 2, true));
    s.add("b", ev("b", 1));
    expect(drive(s)).toEqual(["a1", "a2", "b1"]);
  });

  it("given more suspect orders than slots, each with an ordinary event behind its suspect, then every event still runs (no slot is held while waiting)", () => {
    // The stall this guards against: with the slots held by orders whose next, ordinary event waits
    // for the suspects to be done, the orders still holding suspects would never get a slot.
    const slots = 4;
    const s = new OrderScheduler<Ev>(slots);
    const orders = Array.from({ length: 3 * slots }, (_, i) => `o${i}`);
    for (const o of orders) s.add(o, ev(o, 1, true));
    for (const o of orders) s.add(o, ev(o, 2));
    const log = drive(s);
    expect(log).toHaveLength(2 * orders.length);
    // Every suspect ran before any ordinary event (each alone).
    expect(log.slice(0, orders.length).every((n) => n.endsWith("1"))).toBe(true);
    expect(s.pendingSuspects).toBe(0);
  });

  it("given an event marked suspect while it waits (a new owner's catch-up), then it and its order run alone", () => {
    const s = new OrderScheduler<Ev>(8);
    const b1 = ev("b", 1);
    s.add("a", ev("a", 1));
    const running: Ev[] = [];
    startAll(s, running);
    // b1 came after the limit was… not reached: it would start; mark it before asking.
    s.add("b", b1);
    s.markSuspect("b", b1);
    expect(s.pendingSuspects).toBe(1);
    expect(startAll(s, running)).toEqual([]);
    s.markSuspect("b", b1); // counted once
    expect(s.pendingSuspects).toBe(1);
    expect(s.finished("a")).toBeUndefined();
    expect(startAll(s, running)).toEqual(["b1"]);
  });

  it("given a running order whose next event is marked suspect, then that event waits for its turn alone", () => {
    const s = new OrderScheduler<Ev>(8);
    const a2 = ev("a", 2);
    s.add("a", ev("a", 1));
    s.add("a", a2);
    s.add("b", ev("b", 1));
    const running: Ev[] = [];
    expect(startAll(s, running)).toEqual(["a1", "b1"]);
    s.markSuspect("a", a2);
    expect(s.finished("a")).toBeUndefined();
    expect(startAll(s, running)).toEqual([]);
    expect(s.finished("b")).toBeUndefined();
    expect(startAll(s, running)).toEqual(["a2"]);
  });

  it("given an event not waiting in the scheduler, then marking it suspect changes nothing", () => {
    const s = new OrderScheduler<Ev>(8);
    const stray = ev("a", 9);
    s.markSuspect("a", stray);
    expect(stray.suspect).toBe(false);
    expect(s.pendingSuspects).toBe(0);
  });

  it("given stopping (isolation off), then waiting suspects run alongside the others, within the slots", () => {
    const s = new OrderScheduler<Ev>(2);
    s.add("x", ev("x", 1, true));
    s.add("y", ev("y", 1, true));
    s.add("a", ev("a", 1));
    s.stopIsolating();
    const running: Ev[] = [];
    expect(startAll(s, running)).toEqual(["x1", "y1"]);
    expect(s.finished("x")).toBeUndefined();
    expect(startAll(s, running)).toEqual(["a1"]);
  });

  it("given an abandoned event (stopping while it waited for another attempt), then its order's rest is handed back and the slot freed", () => {
    const s = new OrderScheduler<Ev>(1);
    s.add("a", ev("a", 1, true));
    s.add("a", ev("a", 2, true));
    s.add("b", ev("b", 1));
    const running: Ev[] = [];
    startAll(s, running);
    s.stopIsolating();
    expect(s.abandon("a").map((e) => e.name)).toEqual(["a2"]);
    expect(s.pendingSuspects).toBe(0);
    expect(startAll(s, running)).toEqual(["b1"]);
    expect(s.finished("b")).toBeUndefined();
    expect(s.idle).toBe(true);
  });

  it("given no slot, then it refuses to be made", () => {
    expect(() => new OrderScheduler<Ev>(0)).toThrow(/at least one slot/);
  });
});
