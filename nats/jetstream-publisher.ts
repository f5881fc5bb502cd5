/**
 * JetStream publishes, many in flight for the cost of a core publish and a small reply each.
 *
 * `js.publish` of nats.js makes every publish a request: a reply subscription entry, a promise,
 * its own timeout timer and a copy of the options — about 20 µs of client CPU per event, measured
 * against under 3 µs for the publish itself. Here every publish carries a reply subject under one
 * inbox subscription (`<inbox>.<n>`), answers are matched by their last token, and one sweep a
 * second fails what got no answer in time. The PubAck and the errors are what nats.js gives:
 * `{ stream, seq, duplicate }`, a JetStreamApiError for a refusal (wrong last sequence 10071, …),
 * NoRespondersError when no stream takes the subject, TimeoutError, ClosedConnectionError.
 */
import { JetStreamApiError } from "@nats-io/jetstream";
import { createInbox, errors, type Msg, type MsgHdrs, type NatsConnection, type Subscription } from "@nats-io/transport-node";
import { storeRefusal, type StoreRefusal } from "../shared/store-refusal.ts";

export interface StoredAck {
  stream: string;
  seq: number;
  /** The stream already held a message with this Nats-Msg-Id (within its duplicate window). */
  duplicate: boolean;
}

export interface JetStreamPublisher {
  /** Publishes and resolves with the server's acknowledgement, or rejects with its refusal. */
  publish(subject: string, data: Uint8Array, headers: MsgHdrs): Promise<StoredAck>;
  /** Fails what is still in flight; later publishes fail at once. */
  close(): void;
}

/** How long a publish waits for its acknowledgement (nats.js's JetStream default). */
export const PUBLISH_TIMEOUT_MS = 5_000;

interface InFlight {
  resolve(ack: StoredAck): void;
  reject(err: Error): void;
  subject: string;
  deadline: number;
}

const decoder = new TextDecoder();

/** A publisher on `nc` (its replies come under the connection's inbox prefix, as the auth config allows). */
export function createJetStreamPublisher(
  nc: NatsConnection,
  opts: {
    timeoutMs?: number /** Told of every write refused for lack of room (metrics, readiness). */;
    onStoreRefused?: (refusal: StoreRefusal) => void;
  } = {},
): JetStreamPublisher {
  const timeoutMs = opts.timeoutMs ?? PUBLISH_TIMEOUT_MS;
  const prefix = createInbox((nc as { options?: { inboxPrefix?: string } }).options?.inboxPrefix);
  const inFlight = new Map<number, InFlight>();
  let next = 0;
  let closed: Error | undefined;

  const settle = (m: Msg) => {
    const id = Number(m.subject.slice(prefix.length + 1));
    const waiting = inFlight.get(id);
    if (!waiting) return; // answered after its timeout
    inFlight.delete(id);
    // A status without a body: 503 when no stream listens on the subject.
    if (m.data.length === 0) {
      const code = m.headers?.code ?? 0;
      waiting.reject(
        code === 503
          ? new errors.NoRespondersError(waiting.subject)
          : new Error(`publish to ${waiting.subject}: status ${code} ${m.headers?.description ?? ""}`),
      );
      return;
    }
    let reply: { stream?: string; seq?: number; duplicate?: boolean; error?: { code: number; err_code: number; description: string } };
    try {
      reply = JSON.parse(decoder.decode(m.data));
    } catch (err) {
      waiting.reject(new Error(`publish to ${waiting.subject}: unreadable acknowledgement`, { cause: err }));
      return;
    }
    if (reply.error) {
      const err = new JetStreamApiError(reply.error);
      const refusal = opts.onStoreRefused && storeRefusal(err);
      if (refusal) opts.onStoreRefused!(refusal);
      waiting.reject(err);
    } else waiting.resolve({ stream: reply.stream ?? "", seq: reply.seq ?? 0, duplicate: reply.duplicate === true });
  };

  const sub: Subscription = nc.subscribe(`${prefix}.*`, { callback: (err, m) => (err ? failAll(err) : settle(m)) });
  const failAll = (err: Error) => {
    for (const [id, waiting] of inFlight) {
      inFlight.delete(id);
      waiting.reject(err);
    }
  };
  const sweep = setInterval(
    () => {
      const now = Date.now();
      for (const [id, waiting] of inFlight) {
        if (waiting.deadline > now) continue;
        inFlight.delete(id);
        waiting.reject(new errors.TimeoutError());
      }
    },
    Math.min(1_000, timeoutMs),
  );
  void nc.closed().then(() => {
    closed = new errors.ClosedConnectionError();
    clearInterval(sweep);
    failAll(closed);
  });

  return {
    publish(subject, data, headers) {
      if (closed) return Promise.reject(closed);
      const id = ++next;
      return new Promise<StoredAck>((resolve, reject) => {
        inFlight.set(id, { resolve, reject, subject, deadline: Date.now() + timeoutMs });
        try {
          nc.publish(subject, data, { reply: `${prefix}.${id}`, headers });
        } catch (err) {
          inFlight.delete(id);
          reject(err as Error);
        }
      });
    },
    close() {
      closed ??= new errors.ClosedConnectionError();
      clearInterval(sweep);
      sub.unsubscribe();
      failAll(closed);
    },
  };
}
