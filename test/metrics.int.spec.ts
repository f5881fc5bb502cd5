/**
 * Metrics as an operator sees them (issue 6): a real Prometheus scrapes the four services' /metrics
 * every second while orders flow, and everything is asserted through its HTTP API — the order
 * counters and the e2e latency histogram move, the JetStream consumer gauges and the DLQ size are
 * there, retries and rejects are counted, labels carry no order ids. Every /metrics body passes
 * `promtool check metrics`, and the log lines about a failing message carry its order id and seq.
 */
import { createServer, type Server } from "node:http";
import { fileURLToPath } from "node:url";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { jetstream } from "@nats-io/jetstream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CONSUMED_EVENT_TYPES, eventSubject } from "../nats/subjects.ts";
import { waitUntil } from "./support/processes.ts";
import { findBinary, PROMETHEUS_INSTALL_HINT, promtool, startPrometheus, type PrometheusHandle } from "./support/prometheus.ts";
import { postOrder, startSystem, waitForStatus, type System } from "./support/system.ts";

const RULES = fileURLToPath(new URL("../monitoring/rules.yml", import.meta.url));
const SERVICES = ["order", "payment", "shipping", "notification"] as const;
/** Consumers per service: one per lane (nats/subjects.ts LANES). */
const LANES = 4;
const ORDERS = 6;
const FLAKY_USER = "metrics-flaky";

let system: System | undefined;
let prometheus: PrometheusHandle | undefined;
let nc: NatsConnection | undefined;
let webhook: Server | undefined;
let flakyFailures = 0;
const orderIds: string[] = [];

/** One number from an instant query: the single sample's value, 0 when the vector is empty. */
async function scalar(promql: string): Promise<number> {
  const result = await prometheus!.query(promql);
  if (result.length > 1) throw new Error(`${promql} returned ${result.length} samples, expected one`);
  return result[0]?.value ?? 0;
}

/** Polls Prometheus until `check` holds on the query's value (scrapes are 1 s apart; gauges cached 5 s). */
async function eventually(promql: string, check: (v: number) => boolean, what: string, timeoutMs = 40_000): Promise<number> {
  let last = NaN;
  try {
    return await waitUntil(
      async () => {
        last = await scalar(promql);
        return check(last) ? last : undefined;
      },
      { timeoutMs, intervalMs: 500, what },
    );
  } catch (err) {
    throw new Error(`${(err as Error).message}; last value of ${promql}: ${last}`);
  }
}

const logLines = (name: string) =>
  system!
    .of(name as (typeof SERVICES)[number])
    .flatMap((s) => s.output().split("\n"))
    .flatMap((line) => {
      try {
        return [JSON.parse(line) as Record<string, unknown>];
      } catch {
        return [];
      }
    });

beforeAll(async () => {
  // Missing Prometheus is a failure with the fix in it, not a skip.
  for (const bin of ["prometheus", "promtool"]) if (!findBinary(bin)) throw new Error(`${bin} not found. ${PROMETHEUS_INSTALL_HINT}`);

  webhook = createServer((req, res) => {
    let body = "";
    req.on("data", (d) => (body += d));
    req.on("end", () => {
      const n = JSON.parse(body) as { userId: string };
      // The flaky customer's first notification fails once: the handler is retried.
      if (n.userId === FLAKY_USER && flakyFailures === 0) {
        flakyFailures++;
        res.writeHead(503).end("try again");
        return;
      }
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => webhook!.listen(0, "127.0.0.1", r));
  const webhookUrl = `http://127.0.0.1:${(webhook.address() as { port: number }).port}/hook`;

  system = await startSystem({ env: { NOTIFY_WEBHOOK_URL: webhookUrl, HANDLER_RETRY_BASE_MS: "50" } });
  const jobs = Object.fromEntries(SERVICES.map((name) => [name, system!.of(name).map((s) => `127.0.0.1:${s.port}`)]));
  // The project's rules too (monitoring/rules.yml): they must match the live series, not only promtool's.
  prometheus = await startPrometheus({ jobs, scrapeIntervalSeconds: 1, ruleFiles: [RULES] });
  nc = await connect({ servers: system.nats.url });
});

afterAll(async () => {
  await nc?.close();
  await prometheus?.stop();
  await system?.stop();
  if (webhook) await new Promise((r) => webhook!.close(r));
});

describe("Prometheus scraping the four services", () => {
  it("finds every service up, with no order counted yet", async () => {
    await eventually(
      `count(up{job=~"order|payment|shipping|notification"} == 1)`,
      (v) => v === SERVICES.length,
      "all four services scraped and up",
    ).catch(async (err) => {
      throw new Error(`${(err as Error).message}\ntargets: ${JSON.stringify(await prometheus!.targets())}`);
    });
    expect(await scalar(`sum(orderstream_events_published_total{event_type="ORDER_CREATED"})`)).toBe(0);
    expect(await scalar(`sum(orderstream_order_e2e_latency_seconds_count)`)).toBe(0);
  });

  it("sees the order counters and the e2e latency histogram move as orders ship", async () => {
    for (let i = 0; i < ORDERS; i++) {
      const userId = i === 0 ? FLAKY_USER : `metrics-user-${i}`;
      const res = await postOrder(system!.orderUrl, { userId, amount: 20 + i });
      expect(res.status).toBe(201);
      orderIds.push(res.body.orderId);
    }
    for (const id of orderIds) await waitForStatus(system!.orderUrl, id, ["SHIPPING_READY"], 30_000);

    await eventually(
      `sum(orderstream_events_published_total{event_type="ORDER_CREATED",result="new"})`,
      (v) => v === ORDERS,
      `${ORDERS} ORDER_CREATED counted`,
    );
    await eventually(`sum(orderstream_order_e2e_latency_seconds_count)`, (v) => v === ORDERS, `${ORDERS} e2e latencies observed`);
    // One observation per order, by the shipping service (when it records the SHIPPING_READY).
    expect(await scalar(`sum(orderstream_order_e2e_latency_seconds_count{service="shipping"})`)).toBe(ORDERS);
    const p99 = await scalar(`histogram_quantile(0.99, sum by (le) (orderstream_order_e2e_latency_seconds_bucket))`);
    expect(p99).toBeGreaterThan(0);
    expect(p99).toBeLessThan(60);
    const sum = await scalar(`sum(orderstream_order_e2e_latency_seconds_sum)`);
    expect(sum).toBeGreaterThan(0);

    // Each service handled the orders' events of the types it is delivered (none of a happy order's
    // for the order service); the handler histogram counts what it handled.
    const happy = ["ORDER_CREATED", "PAYMENT_COMPLETED", "SHIPPING_READY"] as const;
    for (const name of SERVICES) {
      const delivered = happy.filter((type) => CONSUMED_EVENT_TYPES[name].includes(type)).length;
      await eventually(
        `sum(orderstream_events_handled_total{service="${name}",outcome="ok"}) or vector(0)`,
        (v) => v === ORDERS * delivered,
        `${name} handled the ${delivered} event(s) it acts on of ${ORDERS} orders`,
      );
    }
    expect(await scalar(`sum(orderstream_handler_duration_seconds_count{service="payment",event_type="ORDER_CREATED"})`)).toBe(ORDERS);
    expect(await scalar(`sum(orderstream_events_published_total{service="payment",event_type="PAYMENT_COMPLETED",result="new"})`)).toBe(
      ORDERS,
    );
    expect(await scalar(`sum(orderstream_events_published_total{service="shipping",event_type="SHIPPING_READY",result="new"})`)).toBe(
      ORDERS,
    );
    // HTTP: the POSTs, by route and status.
    expect(await scalar(`sum(orderstream_http_requests_total{service="order",method="POST",route="/orders",status="201"})`)).toBe(ORDERS);
    expect(await scalar(`sum(orderstream_http_request_duration_seconds_count{service="order",route="/orders"})`)).toBeGreaterThanOrEqual(
      ORDERS,
    );
  });

  it("counts the retried notification, and its log lines name the order and the sequence", async () => {
    expect(flakyFailures).toBe(1);
    await eventually(
      `sum(orderstream_events_handled_total{service="notification",outcome="retried"})`,
      (v) => v >= 1,
      "the failed webhook counted as a retry",
    );
    const line = logLines("notification").find((l) => l.msg === "handler failed; the event will be tried again");
    expect(line, "the retry's log line").toBeDefined();
    expect(line).toMatchObject({
      service: "notification-service",
      orderId: orderIds[0],
      consumer: expect.stringMatching(/^notification-lane\d$/),
    });
    expect(line!.seq).toEqual(expect.any(Number));
    expect(line!.trace_id).toMatch(/^[0-9a-f]{32}$/);
    expect(line!.span_id).toMatch(/^[0-9a-f]{16}$/);
  });

  it("exports the JetStream gauges of every partition consumer", async () => {
    for (const gauge of ["pending", "ack_pending", "redelivered"]) {
      await eventually(
        `count(orderstream_consumer_${gauge}_messages)`,
        (v) => v === SERVICES.length * LANES,
        `${LANES} ${gauge} gauges per service`,
      );
    }
    for (const name of SERVICES) {
      expect(await scalar(`count(orderstream_consumer_pending_messages{service="${name}",consumer=~"${name}-lane[0-9]"})`)).toBe(LANES);
    }
    // Everything shipped: nothing left waiting or in flight.
    await eventually(
      `sum(orderstream_consumer_pending_messages) + sum(orderstream_consumer_ack_pending_messages)`,
      (v) => v === 0,
      "consumers drained",
    );
    expect(await scalar(`count(orderstream_dlq_messages)`)).toBe(SERVICES.length);
    expect(await scalar(`sum(orderstream_dlq_messages)`)).toBe(0);
  });

  it("counts a message that is not an order event as rejected and shows it in the DLQ size", async () => {
    const js = jetstream(nc!);
    const poisonOrder = "metrics-poison-order";
    const ack = await js.publish(eventSubject(poisonOrder, "ORDER_CREATED"), new TextEncoder().encode("not json"));
    // Every service delivered ORDER_CREATED (all but the order service) rejects it once.
    const receivers = SERVICES.filter((name) => CONSUMED_EVENT_TYPES[name].includes("ORDER_CREATED"));
    await eventually(`sum(orderstream_dlq_messages)`, (v) => v === receivers.length, "one dead letter per service delivered it");
    await eventually(
      `sum(orderstream_events_handled_total{event_type="invalid",outcome="rejected"})`,
      (v) => v === receivers.length,
      "every service delivered it rejected it once",
    );
    for (const name of receivers) {
      const line = logLines(name).find((l) => l.msg === "rejected a message that is not a valid order event");
      expect(line, `${name} logged the reject`).toMatchObject({ orderId: poisonOrder, seq: ack.seq, service: `${name}-service` });
    }
  });

  it("evaluates monitoring/rules.yml on the live series: rules healthy, the recordings filled, the dead-letter alert pending", async () => {
    const receivers = SERVICES.filter((name) => CONSUMED_EVENT_TYPES[name].includes("ORDER_CREATED"));
    // The poison message of the test before: one dead letter per service delivered it.
    await eventually(
      `count(ALERTS{alertname="OrderstreamDeadLetters"})`,
      (v) => v === receivers.length,
      "OrderstreamDeadLetters pending (or firing) for every service that dead-lettered",
    );
    await eventually(
      `count(service:orderstream_http_requests:rate5m > 0)`,
      (v) => v === SERVICES.length,
      "a request rate recorded per service",
    );
    // rate() sees only increases between two scrapes of a series that already exists: the orders of
    // the tests before may all have shipped before the SHIPPING_READY series was first scraped, so one
    // more order ships now.
    const late = await postOrder(system!.orderUrl, { userId: "metrics-late", amount: 30 });
    expect(late.status).toBe(201);
    orderIds.push(late.body.orderId);
    await waitForStatus(system!.orderUrl, late.body.orderId, ["SHIPPING_READY"], 30_000);
    await eventually(`orderstream:orders_completed:rate5m`, (v) => v > 0, "orders completed per second recorded");
    expect(await scalar(`count(ALERTS{alertname=~"OrderstreamServiceNotReady|OrderstreamServiceDown"})`)).toBe(0);
    const res = await fetch(`${prometheus!.url}/api/v1/rules`);
    const groups = ((await res.json()) as { data: { groups: { rules: { name: string; health: string; lastError?: string }[] }[] } }).data
      .groups;
    const rules = groups.flatMap((g) => g.rules);
    expect(rules.length).toBeGreaterThan(10);
    expect(rules.filter((r) => r.health !== "ok").map((r) => `${r.name}: ${r.health} ${r.lastError ?? ""}`)).toEqual([]);
  });

  it("keeps order ids out of every label", async () => {
    const res = await fetch(`${prometheus!.url}/api/v1/series?match[]=${encodeURIComponent('{service=~".+"}')}`);
    const series = ((await res.json()) as { data: Record<string, string>[] }).data;
    expect(series.length).toBeGreaterThan(100);
    const values = series.flatMap((s) => Object.values(s)).join("\n");
    for (const id of [...orderIds, "metrics-poison-order"]) expect(values).not.toContain(id);
    const labelNames = new Set(series.flatMap((s) => Object.keys(s)));
    expect([...labelNames].filter((l) => /order/i.test(l))).toEqual([]);
  });

  it("exports process memory, CPU and event-loop lag under their standard names, and readiness, for every service", async () => {
    expect(await scalar(`count(process_resident_memory_bytes > 0)`)).toBe(SERVICES.length);
    expect(await scalar(`count(process_cpu_seconds_total > 0)`)).toBe(SERVICES.length);
    expect(await scalar(`count(nodejs_eventloop_lag_p99_seconds)`)).toBe(SERVICES.length);
    expect(await scalar(`count(orderstream_ready == 1)`)).toBe(SERVICES.length);
  });
});

describe("each service's /metrics", () => {
  it("passes `promtool check metrics`", async () => {
    for (const s of system!.services) {
      const res = await fetch(`${s.baseUrl}/metrics`);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toContain("text/plain");
      const body = await res.text();
      expect(body).toContain("# TYPE orderstream_events_handled_total counter");
      const check = promtool(["check", "metrics"], body);
      expect(check.status, `${s.name}: ${check.output}`).toBe(0);
    }
  });

  it("makes promtool fail on a malformed exposition (the check can fail)", () => {
    const check = promtool(["check", "metrics"], "# TYPE orderstream_x counter\norderstream_x{a=} 1\n");
    expect(check.status).not.toBe(0);
  });
});
