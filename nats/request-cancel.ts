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
 *
 * Upstream: reported as https://github.com/nats-io/nats.deno/issues/614 with the fix in
 * https://github.com/nats-io/nats.deno/pull/613 (closed unmerged: its other half, `noAsyncTraces`,
 * went in through nats.deno PR 622; the error built in `cancel()` stayed). nats.js 3.4.0 still does
 * it (core/src/request.ts). This patch replaces a method of a class nats.js exports but does not
 * document, so package.json pins `@nats-io/*` to the 3.4 minor and nats/request-cancel.unit.spec.ts
 * fails when the method's shape or behaviour changes. The change to make upstream, after which this
 * file goes: docs/upstream.md.
 */
import { errors, RequestOne } from "@nats-io/transport-node";

type Cancel = (this: RequestOne, err?: Error) => void;

const CANCELLED = new errors.RequestError("cancelled");
/** Marks the wrapper and keeps nats.js's own `cancel` under it (read by originalCancel). */
const wrapped = Symbol("orderstream.sharedCancelError");
type Wrapped = Cancel & { [wrapped]?: Cancel };

/** `cancel` that hands `reason` (or one shared "cancelled" error) to the original. */
export function withSharedCancelError(cancel: Cancel, reason: Error = CANCELLED): Cancel {
  const shared: Cancel = function (this: RequestOne, err?: Error) {
    cancel.call(this, err ?? reason);
  };
  return Object.assign(shared, { [wrapped]: cancel });
}

/** nats.js's own `cancel` of `cancel` (itself when it is not the wrapper). */
export function originalCancel(cancel: Cancel): Cancel {
  return (cancel as Wrapped)[wrapped] ?? cancel;
}

/** Installs the shared-error `cancel` on nats.js's request class, once per process. */
export function shareRequestCancelError(): void {
  const proto = RequestOne.prototype as { cancel: Wrapped };
  if (proto.cancel[wrapped]) return;
  proto.cancel = withSharedCancelError(proto.cancel);
}
