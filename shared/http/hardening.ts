/**
 * HTTP hardening every service shares (mounted by host/http-app.ts before the routes):
 * security headers, a request deadline, and the mapping of "NATS is not answering" to 503.
 * Web-standard only, like the rest of the app; body limits and JSON parsing live in json-body.ts.
 */
import type { MiddlewareHandler } from "hono";
import { secureHeaders } from "hono/secure-headers";
import { errors as natsErrors } from "@nats-io/transport-node";
import { JetStreamApiError } from "@nats-io/jetstream";
import { HttpProblem } from "./problem.ts";
import { storeRefusal } from "../store-refusal.ts";

/** Default deadline of one request: far above a healthy request (milliseconds), far below a client's patience. */
export const REQUEST_TIMEOUT_MS = 10_000;

/** For JSON and problem responses: nothing may load, nothing may frame them. HTML routes set their own. */
export const API_CSP = "default-src 'none'; frame-ancestors 'none'";

export interface HardeningOptions {
  /** Request deadline in milliseconds; default {@link REQUEST_TIMEOUT_MS}. */
  timeoutMs?: number;
}

/**
 * Hono's secure headers (nosniff, frame and referrer policies, HSTS, …, and no X-Powered-By), plus
 * a locked-down Content-Security-Policy on every response that is not an HTML page.
 *
 * @example
 * app.use(apiSecureHeaders())
 */
export function apiSecureHeaders(): MiddlewareHandler {
  const headers = secureHeaders();
  return async function apiSecureHeaders(c, next) {
    await headers(c, next);
    const type = c.res.headers.get("content-type") ?? "";
    if (!/^text\/html\b/i.test(type) && !c.res.headers.has("content-security-policy")) {
      c.res.headers.set("content-security-policy", API_CSP);
    }
  };
}

/**
 * Fails a request that has not answered within `ms` with 503 problem+json and `Retry-After`, like
 * `hono/timeout` but in the services' error format. The work already started is not cancelled (a
 * publish may still land): a client retrying a POST should send the same Idempotency-Key.
 *
 * @example
 * app.use(requestTimeout(10_000))
 */
export function requestTimeout(ms: number = REQUEST_TIMEOUT_MS): MiddlewareHandler {
  return async function requestTimeout(_c, next) {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const problem = new HttpProblem(503, "timeout", `The request did not complete within ${ms / 1000} s; retry shortly.`);
        problem.headers.set("retry-after", "1");
        reject(problem);
      }, ms);
    });
    try {
      await Promise.race([next(), expired]);
    } finally {
      clearTimeout(timer);
    }
  };
}

/**
 * The hardening middleware in the order they must run: headers outermost (so they also land on
 * error responses), then the deadline.
 *
 * @example
 * app.use(...hardening({ timeoutMs: 10_000 }))
 */
export function hardening(opts: HardeningOptions = {}): MiddlewareHandler[] {
  return [apiSecureHeaders(), requestTimeout(opts.timeoutMs ?? REQUEST_TIMEOUT_MS)];
}

const UNAVAILABLE: ReadonlyArray<new (...args: never[]) => Error> = [
  natsErrors.TimeoutError,
  natsErrors.NoRespondersError,
  natsErrors.ConnectionError,
  natsErrors.ClosedConnectionError,
  natsErrors.DrainingConnectionError,
];

/**
 * A 503 problem when `err` (or its cause) says NATS did not answer — a transient condition a
 * client should retry — else null. The problem names no internals.
 */
export function unavailableProblem(err: unknown): HttpProblem | null {
  if (!natsUnavailable(err)) return null;
  const problem = new HttpProblem(503, "nats-unavailable", "The message broker did not answer in time; retry shortly.");
  problem.headers.set("retry-after", "1");
  return problem;
}

/** How long a client is asked to wait before retrying a write the full store refused. */
export const STORE_FULL_RETRY_AFTER_S = 30;

/**
 * A 507 problem when `err` (or its cause) is JetStream refusing a write for lack of room (its
 * error codes, shared/store-refusal.ts), naming the cause; else null. Nothing was written: the
 * client may retry later with the same Idempotency-Key.
 */
export function storeFullProblem(err: unknown): HttpProblem | null {
  const refusal = storeRefusal(err);
  if (!refusal) return null;
  const problem = new HttpProblem(
    507,
    "store-full",
    `The event store is full (JetStream: ${refusal.description}); the request was not carried out. Retry later.`,
  );
  problem.headers.set("retry-after", String(STORE_FULL_RETRY_AFTER_S));
  return problem;
}

/**
 * True when `err` (or its cause) says NATS did not answer, or JetStream answered that it cannot
 * serve right now (an API error with status 503: no leader yet, JetStream starting up after a
 * restart): transient, worth trying again.
 */
export function natsUnavailable(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (UNAVAILABLE.some((type) => e instanceof type)) return true;
    // A full store also answers 503 (10023, 10077): that is an answer, and storeFullProblem's.
    if (e instanceof JetStreamApiError && e.status === 503) return storeRefusal(e) === null;
  }
  return false;
}
