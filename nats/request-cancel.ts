/**
 * nats.js 3.4 calls `cancel()` on every request once it is answered (`RequestOne.resolver`), and
 * `cancel()` rejects the already settled promise with a *new* `RequestError("cancelled")`: an Error,
 * stack trace included, built and dropped per request (each JetStream publish, KV write and direct
 * get). `noAsyncTraces` does not cover it. In the benchmark's profile it was 4–5 % of every
 * service's CPU (BENCHMARKS.md, "Settings decided by measurement").
 *
 * Nobody can observe that rejection: after an answer the promise is settled, and after a timeout the
 * request's promise has already lost the race to the timer's. So cancelling without a reason passes
 * one shared error instead; a reason given by nats.js (a failed publish) still goes through as is.
 */
import { errors, RequestOne } from "@nats-io/transport-node";

type Cancel = (this: RequestOne, err?: Error) => void;

const CANCELLED = new errors.RequestError("cancelled");
const wrapped = Symbol("orderstream.sharedCancelError");

/** `cancel` that hands `reason` (or one shared "cancelled" error) to the original. */
export function withSharedCancelError(cancel: Cancel, reason: Error = CANCELLED): Cancel {
  const shared: Cancel = function (this: RequestOne, err?: Error) {
    cancel.call(this, err ?? reason);
  };
  return Object.assign(shared, { [wrapped]: true });
}

/** Installs the shared-error `cancel` on nats.js's request class, once per process. */
export function shareRequestCancelError(): void {
  const proto = RequestOne.prototype as { cancel: Cancel & { [wrapped]?: true } };
  if (proto.cancel[wrapped]) return;
  proto.cancel = withSharedCancelError(proto.cancel);
}
