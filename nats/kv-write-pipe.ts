/**
 * Many KV writes in flight at once, each guarded like `kv.create` / `kv.update`. A KV write is a
 * JetStream publish to the key's subject; `kv.create` makes each one a request (a reply
 * subscription entry, a timer, a promise and, without `noAsyncTraces`, an Error with a stack). Here
 * every write is a plain publish carrying `Nats-Expected-Last-Subject-Sequence` (0 = the key must
 * have no message, n = its last message must be revision n: the server refuses it otherwise) and a
 * reply subject under one inbox subscription, so thousands are in flight for the cost of a publish
 * and a small reply each. Nothing is ever written unguarded; what was refused (the key moved on,
 * or another error) or never answered (e.g. dropped by a busy server) is reported to the caller,
 * who falls back to its own load + compare-and-set path.
 */
import type { KV } from "@nats-io/kv";
import { Bucket } from "@nats-io/kv";
import { PubHeaders } from "@nats-io/jetstream";
import { JetStreamClientImpl } from "@nats-io/jetstream/internal";
import { createInbox, headers, type Msg, type MsgHdrs, type NatsConnection, type Subscription } from "@nats-io/transport-node";

export interface KvWritePipeOptions {
  /** Writes awaiting their reply at most (bounds memory and the server's backlog). */
  inFlight?: number;
  /** `settle()` gives up on outstanding writes when no reply came for this long. */
  idleTimeoutMs?: number;
}

/** Called once per answered write: the entry's new revision, or 0 when the server refused it. */
export type KvWriteReply = (token: number, revision: number) => void;

export interface KvWritePipe {
  /** Writes sent and not answered yet. */
  readonly outstanding: number;
  /**
   * Sends a write unless `inFlight` writes are outstanding (then returns false, sends nothing).
   * `expectedRevision` 0 creates; n > 0 replaces revision n. `token` comes back in the reply.
   */
  offer(token: number, key: string, value: string, expectedRevision: number): boolean;
  /** Sends a write, first waiting for room in the window. */
  write(token: number, key: string, value: string, expectedRevision: number): Promise<void>;
  /** Waits for every reply (or `idleTimeoutMs` without one); returns the tokens never answered. */
  settle(): Promise<number[]>;
  close(): void;
}

/**
 * A pipe for a KV handle made by `@nats-io/kv` (a `Bucket` on a `jetstream()` client), or null for
 * anything else — the caller then writes one by one through the KV API.
 */
export function openKvWritePipe(kv: KV, onReply: KvWriteReply, options: KvWritePipeOptions = {}): KvWritePipe | null {
  if (!(kv instanceof Bucket) || !(kv.js instanceof JetStreamClientImpl)) return null;
  return new Pipe(kv.js.nc, kv, onReply, options);
}

class Pipe implements KvWritePipe {
  outstanding = 0;
  private readonly inFlight: number;
  private readonly lowWater: number;
  private readonly idleTimeoutMs: number;
  private readonly prefix: string;
  private readonly sub: Subscription;
  /** token of every write sent, by write number (the reply subject's last token); -1 once answered */
  private readonly tokens: number[] = [];
  private readonly createHeaders: MsgHdrs;
  private failure: Error | undefined;
  private wake: (() => void) | undefined;

  constructor(
    private readonly nc: NatsConnection,
    private readonly bucket: Bucket,
    private readonly onReply: KvWriteReply,
    options: KvWritePipeOptions,
  ) {
    this.inFlight = options.inFlight ?? 8_192;
    // Refill the window in chunks rather than per reply: fewer wake-ups, larger socket writes.
    this.lowWater = Math.floor(this.inFlight / 2);
    this.idleTimeoutMs = options.idleTimeoutMs ?? 5_000;
    this.prefix = createInbox((nc as { options?: { inboxPrefix?: string } }).options?.inboxPrefix);
    this.createHeaders = guard(0);
    this.sub = nc.subscribe(`${this.prefix}.*`, { callback: (err, m) => this.reply(err, m) });
  }

  offer(token: number, key: string, value: string, expectedRevision: number): boolean {
    if (this.failure) throw this.failure;
    if (this.outstanding >= this.inFlight) return false;
    const ek = this.bucket.encodeKey(key);
    this.bucket.validateKey(ek);
    const write = this.tokens.push(token) - 1;
    this.nc.publish(this.bucket.subjectForKey(ek, true), this.bucket.codec.value.encode(value), {
      reply: `${this.prefix}.${write}`,
      headers: expectedRevision === 0 ? this.createHeaders : guard(expectedRevision),
    });
    this.outstanding++;
    return true;
  }

  async write(token: number, key: string, value: string, expectedRevision: number): Promise<void> {
    while (!this.offer(token, key, value, expectedRevision)) {
      // No reply for idleTimeoutMs: the outstanding ones are given up on (settle() reports them).
      if (!(await this.drained(this.lowWater))) this.outstanding = 0;
    }
  }

  async settle(): Promise<number[]> {
    await this.drained(0);
    if (this.failure) throw this.failure;
    this.outstanding = 0;
    const unanswered: number[] = [];
    for (let w = 0; w < this.tokens.length; w++) {
      if (this.tokens[w] !== -1) {
        unanswered.push(this.tokens[w]!);
        this.tokens[w] = -1; // a late reply is ignored
      }
    }
    return unanswered;
  }

  close(): void {
    this.sub.unsubscribe();
  }

  private reply(err: Error | null, m: Msg): void {
    if (err) {
      this.failure = err;
    } else {
      const w = Number(m.subject.slice(this.prefix.length + 1));
      const token = this.tokens[w];
      if (token !== undefined && token !== -1) {
        this.tokens[w] = -1;
        if (this.outstanding > 0) this.outstanding--;
        this.onReply(token, revisionOf(m));
      }
    }
    this.wake?.();
  }

  /** Resolves true when at most `below` writes are outstanding, false after idleTimeoutMs without a reply. */
  private drained(below: number): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      if (this.outstanding <= below || this.failure) return resolve(true);
      let seen = this.outstanding;
      const timer = setTimeout(() => {
        this.wake = undefined;
        resolve(false);
      }, this.idleTimeoutMs);
      this.wake = () => {
        if (this.outstanding <= below || this.failure) {
          clearTimeout(timer);
          this.wake = undefined;
          resolve(true);
        } else if (this.outstanding < seen) {
          // Replies are still coming: restart the idle clock.
          seen = this.outstanding;
          timer.refresh();
        }
      };
    });
  }
}

function guard(expectedRevision: number): MsgHdrs {
  const h = headers();
  h.set(PubHeaders.ExpectedLastSubjectSequenceHdr, `${expectedRevision}`);
  return h;
}

/** The stored revision from a JetStream PubAck (`{"stream":…,"seq":…}`); 0 for an error or a no-responders status. */
function revisionOf(m: Msg): number {
  if (m.data.length === 0) return 0;
  try {
    const reply = m.json<{ error?: unknown; seq?: unknown }>();
    return !reply.error && typeof reply.seq === "number" && reply.seq > 0 ? reply.seq : 0;
  } catch {
    return 0;
  }
}
