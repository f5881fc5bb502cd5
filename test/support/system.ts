/**
 * The whole system for an integration test: its own nats-server on a free loopback port and the
 * default services (the four) as real child processes pointed at it, plus small HTTP helpers.
 */
import { startNatsServer, type NatsServerHandle } from "./nats-server.ts";
import { startService, waitUntil, type ServiceName, type ServiceProcess } from "./processes.ts";
import { DEFAULT_SERVICES } from "../../nats/subjects.ts";

export interface SystemOptions {
  /** Extra env for every service (e.g. OTEL_EXPORTER_OTLP_ENDPOINT, PAYMENT_LIMIT). */
  env?: Record<string, string>;
  /** Which services to run, and how many instances of each (default: one of each). */
  instances?: Partial<Record<ServiceName, number>>;
  nats?: NatsServerHandle;
}

export interface System {
  nats: NatsServerHandle;
  services: ServiceProcess[];
  orderUrl: string;
  notificationUrl: string;
  of(name: ServiceName): ServiceProcess[];
  /** Adds one more instance of a service. */
  add(name: ServiceName, env?: Record<string, string>): Promise<ServiceProcess>;
  stop(): Promise<void>;
}

// The default system; an opt-in service (loyalty) is added with `add`.
const ALL = DEFAULT_SERVICES;

export async function startSystem(opts: SystemOptions = {}): Promise<System> {
  const nats = opts.nats ?? (await startNatsServer());
  const baseEnv = { NATS_URL: nats.url, ...opts.env };
  const services: ServiceProcess[] = [];
  const add = async (name: ServiceName, env: Record<string, string> = {}) => {
    const s = await startService(name, { ...baseEnv, ...env });
    services.push(s);
    return s;
  };
  try {
    // Sequentially: the first instance creates the streams; the rest bind (both paths are covered).
    for (const name of ALL) {
      const count = opts.instances?.[name] ?? 1;
      for (let i = 0; i < count; i++) await add(name);
    }
  } catch (err) {
    await Promise.all(services.map((s) => s.kill()));
    if (!opts.nats) await nats.stop();
    throw err;
  }
  const first = (name: ServiceName) => services.find((s) => s.name === name);
  return {
    nats,
    services,
    get orderUrl() {
      return first("order")?.baseUrl ?? "";
    },
    get notificationUrl() {
      return first("notification")?.baseUrl ?? "";
    },
    of: (name) => services.filter((s) => s.name === name),
    add,
    async stop() {
      await Promise.all(services.map((s) => s.stop("SIGTERM").catch(() => s.kill())));
      if (!opts.nats) await nats.stop();
    },
  };
}

export interface OrderBody {
  userId: string;
  amount: number;
  currency?: string;
  items?: { sku: string; quantity: number; unitPrice: number }[];
}

/** POST /orders; returns status, headers and parsed body. */
export async function postOrder(baseUrl: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${baseUrl}/orders`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  // biome-ignore lint/suspicious/noExplicitAny: a response body the caller's assertions check
  return { status: res.status, headers: res.headers, body: (await res.json()) as any };
}

// biome-ignore lint/suspicious/noExplicitAny: a response body the caller's assertions check
export async function getJson(url: string): Promise<{ status: number; body: any; headers: Headers }> {
  const res = await fetch(url);
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : null };
}

/** Polls GET /orders/{id} until its status is one of `statuses`. */
export async function waitForStatus(baseUrl: string, orderId: string, statuses: string[], timeoutMs = 20_000) {
  return waitUntil(
    async () => {
      const { status, body } = await getJson(`${baseUrl}/orders/${orderId}`);
      return status === 200 && statuses.includes(body.status) ? body : undefined;
    },
    { timeoutMs, intervalMs: 100, what: `order ${orderId} to reach ${statuses.join("|")}` },
  );
}

/** The order's event types in stream order. */
export async function eventTypes(baseUrl: string, orderId: string): Promise<string[]> {
  const { body } = await getJson(`${baseUrl}/orders/${orderId}/events`);
  return (body as { eventType: string }[]).map((e) => e.eventType);
}

/** One order being placed under faults: its key, and what its attempts met. */
export interface PlacementState {
  key: string;
  orderId?: string;
  attempts: number;
  failures: string[];
}

/**
 * POSTs an order with the same Idempotency-Key until it is accepted, as a client does while NATS is
 * away (503 problem+json answers with Retry-After, and timeouts, are retried; anything else is a bug
 * and throws). A retry must name the order the first accepted attempt named, never a second one.
 */
export async function placeUntilAccepted(
  baseUrl: string,
  p: PlacementState,
  body: unknown,
  opts: {
    deadlineMs: number;
    requestTimeoutMs: number;
    intervalMs: number;
    diagnostics?: () => string;
    /** Statuses that mean "try again" (default 503 only: NATS away is never another 5xx). */
    retryStatuses?: number[];
  },
): Promise<void> {
  const retry = opts.retryStatuses ?? [503];
  const deadline = Date.now() + opts.deadlineMs;
  for (;;) {
    p.attempts++;
    let res: Response | undefined;
    let text = "";
    try {
      res = await fetch(`${baseUrl}/orders`, {
        method: "POST",
        headers: { "content-type": "application/json", "idempotency-key": p.key },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(opts.requestTimeoutMs),
      });
      text = await res.text();
    } catch (err) {
      p.failures.push((err as Error).message);
    }
    if (res && (res.status === 201 || res.status === 200)) {
      const orderId = JSON.parse(text).orderId as string;
      if (p.orderId && p.orderId !== orderId) throw new Error(`key ${p.key} gave ${p.orderId} then ${orderId}`);
      p.orderId = orderId;
      return;
    }
    if (res) {
      if (!retry.includes(res.status)) throw new Error(`POST ${p.key} answered ${res.status}: ${text}`);
      if (!/^application\/problem\+json/.test(res.headers.get("content-type") ?? "")) {
        throw new Error(`POST ${p.key} answered ${res.status} without problem+json: ${text}`);
      }
      if (res.status === 503 && !res.headers.get("retry-after")) throw new Error(`POST ${p.key} answered 503 without Retry-After: ${text}`);
      p.failures.push(`${res.status} ${(JSON.parse(text) as { type?: string }).type ?? ""}`);
    }
    if (Date.now() > deadline) {
      throw new Error(
        `POST ${p.key} still failing after ${opts.deadlineMs} ms: ${p.failures.join("; ")}${opts.diagnostics ? `\n${opts.diagnostics()}` : ""}`,
      );
    }
    await new Promise((r) => setTimeout(r, opts.intervalMs));
  }
}
