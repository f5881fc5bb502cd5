/**
 * Which taken events of one partition may run now. Pure (no I/O, no timers): the worker asks `next()`
 * for an event to start and reports each one's end with `finished()`; this decides.
 *
 * - One order's events run one after the other, in the order they were added.
 * - Different orders run concurrently, at most `limit` at once; an order keeps running (and keeps its
 *   slot) from one of its events to the next, orders waiting for a slot start in the order they came.
 * - Suspects (what a new owner took over from one that may have died of it, nats/crash-suspects.ts)
 *   run alone: while any is pending, nothing new starts until nothing runs, then one order holding a
 *   suspect runs its next event alone. A slot is held only while an event runs, never while an order
 *   waits for that turn: otherwise orders waiting behind the suspects could hold every slot while the
 *   suspects' orders wait for one, and nothing would ever move.
 * - `stopIsolating()` (the worker stops): suspects no longer run alone, every order may finish.
 */

/** What the scheduler reads and writes of an event. */
export interface Schedulable {
  /** Left by a previous owner that may have died of it: it runs alone. */
  suspect: boolean;
}

export class OrderScheduler<E extends Schedulable> {
  /** Each order's events not yet finished; the first one is running or next. */
  private readonly queues = new Map<string, E[]>();
  /** Orders not running whose next event may run alongside others, in the order they became ready. */
  private readonly ready: string[] = [];
  /** Orders not running that hold a suspect: their next event runs alone. */
  private readonly readyAlone: string[] = [];
  private runningOrders = 0;
  private suspects = 0;
  private isolating = true;

  constructor(private readonly limit: number) {
    if (!(limit >= 1)) throw new RangeError(`the order scheduler needs at least one slot, got ${limit}`);
  }

  /** Suspect events added and not yet finished. */
  get pendingSuspects(): number {
    return this.suspects;
  }

  /** Orders with an event running now. */
  get running(): number {
    return this.runningOrders;
  }

  /** True when no order has an event running or waiting. */
  get idle(): boolean {
    return this.queues.size === 0;
  }

  /** Adds an event behind the order's earlier ones. */
  add(order: string, entry: E): void {
    if (entry.suspect) this.suspects++;
    const queue = this.queues.get(order);
    if (queue === undefined) {
      this.queues.set(order, [entry]);
      (entry.suspect ? this.readyAlone : this.ready).push(order);
      return;
    }
    queue.push(entry);
    if (entry.suspect) this.moveToAlone(order);
  }

  /** The event turns out to be a suspect (a new owner's catch-up): from now on it, and its order's next events, run alone. */
  markSuspect(order: string, entry: E): void {
    if (entry.suspect || !this.queues.get(order)?.includes(entry)) return;
    entry.suspect = true;
    this.suspects++;
    this.moveToAlone(order);
  }

  /** An event that may start now (its order is then running), or undefined. Call until undefined. */
  next(): E | undefined {
    let order: string | undefined;
    if (this.suspects > 0 && this.isolating) {
      if (this.runningOrders > 0) return undefined;
      order = this.readyAlone.shift();
    } else {
      if (this.runningOrders >= this.limit) return undefined;
      order = this.readyAlone.length > 0 ? this.readyAlone.shift() : this.ready.shift();
    }
    if (order === undefined) return undefined;
    this.runningOrders++;
    return this.queues.get(order)![0];
  }

  /**
   * The order's running event ended: its next event, when the order may go straight on with it;
   * otherwise undefined, and the order waits for `next()`. Call `next()` afterwards either way: what
   * ended may let others start.
   */
  finished(order: string): E | undefined {
    const queue = this.queues.get(order);
    if (queue === undefined) return undefined;
    const ended = queue.shift()!;
    if (ended.suspect) this.suspects--;
    if (queue.length === 0) {
      this.queues.delete(order);
      this.runningOrders--;
      return undefined;
    }
    if (this.suspects === 0 || !this.isolating) return queue[0];
    // Suspects are pending: this order's next event waits for its turn without holding a slot.
    this.runningOrders--;
    (queue.some((e) => e.suspect) ? this.readyAlone : this.ready).push(order);
    return undefined;
  }

  /** The order's running event was abandoned (stopping): the order and its waiting events go; returns those. */
  abandon(order: string): E[] {
    const queue = this.queues.get(order);
    if (queue === undefined) return [];
    this.queues.delete(order);
    this.runningOrders--;
    for (const e of queue) if (e.suspect) this.suspects--;
    return queue.slice(1);
  }

  /** Suspects no longer run alone: stopping, every order may finish what it took. */
  stopIsolating(): void {
    this.isolating = false;
  }

  /** An order that now holds a suspect and waits for a turn runs its next event alone. */
  private moveToAlone(order: string): void {
    const i = this.ready.indexOf(order);
    if (i < 0) return; // running (finished() sorts it) or already waiting to run alone
    this.ready.splice(i, 1);
    this.readyAlone.push(order);
  }
}
