/**
 * The cumulative acknowledgement of one partition consumer (ack policy "all"): events are taken in
 * any order and finish in any order, but an ack of sequence n settles everything up to n, so only
 * the highest sequence below which everything is done (the floor) may be acknowledged. Pure: the
 * caller owns the messages and sends the ack (nats/partition-worker.ts, one per event-loop turn).
 */

/** One taken event as the window sees it. */
export interface Windowed<A> {
  readonly seq: number;
  /** Its latest delivery, through which it is acknowledged; undefined for one read from the stream. */
  msg: A | undefined;
  done: boolean;
}

export class AckWindow<A, E extends Windowed<A> = Windowed<A>> {
  /** Entries above the floor, ascending by sequence. */
  private readonly pending: E[] = [];
  private readonly bySeq = new Map<number, E>();
  private floorSeq = 0;
  /** The delivery of the highest entry that went under the floor since the last `takeAck`. */
  private ackable: A | undefined;

  /** Highest sequence under the floor: everything up to it is done. */
  get floor(): number {
    return this.floorSeq;
  }

  /** Entries taken and not yet under the floor (running, waiting, or done above a gap). */
  get size(): number {
    return this.pending.length;
  }

  /** The entries above the floor, ascending (read-only view). */
  entries(): readonly E[] {
    return this.pending;
  }

  get(seq: number): E | undefined {
    return this.bySeq.get(seq);
  }

  /** Takes an entry; false (and nothing changes) when its sequence is under the floor or already taken. */
  add(entry: E): boolean {
    if (entry.seq <= this.floorSeq || this.bySeq.has(entry.seq)) return false;
    this.bySeq.set(entry.seq, entry);
    // Almost always the highest so far; a stream read on taking over may fill a gap below.
    const pending = this.pending;
    let i = pending.length;
    while (i > 0 && pending[i - 1]!.seq > entry.seq) i--;
    if (i === pending.length) pending.push(entry);
    else pending.splice(i, 0, entry);
    return true;
  }

  /**
   * Where a delivered message stands: "under-floor" (done: the caller acknowledges that delivery at
   * once), "taken" (acknowledged later through this latest delivery), or "new" (the caller adds it).
   */
  redelivered(seq: number, msg: A): "under-floor" | "taken" | "new" {
    if (seq <= this.floorSeq) return "under-floor";
    const known = this.bySeq.get(seq);
    if (!known) return "new";
    known.msg = msg;
    return "taken";
  }

  /** Marks the entry done and raises the floor over every done entry at the bottom; true when an ack is due. */
  complete(entry: E): boolean {
    entry.done = true;
    const pending = this.pending;
    while (pending.length > 0 && pending[0]!.done) {
      const e = pending.shift()!;
      this.bySeq.delete(e.seq);
      this.floorSeq = e.seq;
      if (e.msg !== undefined) this.ackable = e.msg;
    }
    return this.ackable !== undefined;
  }

  /** The one delivery to acknowledge for everything under the floor (cleared: the next ack is due after more completes). */
  takeAck(): A | undefined {
    const msg = this.ackable;
    this.ackable = undefined;
    return msg;
  }

  /**
   * The consumer was replaced (its sequences start over): forgets every entry and the floor. What is
   * still running finishes, but is no longer acknowledged through the old consumer's deliveries.
   */
  reset(): void {
    for (const entry of this.pending) entry.msg = undefined;
    this.pending.length = 0;
    this.bySeq.clear();
    this.floorSeq = 0;
    this.ackable = undefined;
  }
}
