/**
 * Trace inspection and central logs against the real servers: nats-server, Jaeger v2 and
 * VictoriaLogs as processes on free loopback ports, the four services exporting spans to Jaeger and
 * shipping their log lines to VictoriaLogs. One order is then read back the way an operator reads it:
 * `cli trace` and `cli logs` (as child processes), `GET /orders/{id}/trace` and the order page — one
 * trace of all four services with producer → consumer links, and the order's log lines from every
 * service, each tied to a span of that trace. And a service whose log store is down keeps working,
 * counts what it drops, and ships again once the store is back.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../scripts/nats-binary.ts";
import { fetchOrderLogs, type LogLine } from "../inspection/log-query.ts";
import type { TraceSpan } from "../inspection/trace-span.ts";
import { runCli } from "./support/cli.ts";
import { startTestJaeger, startTestVictoriaLogs } from "./support/observability.ts";
import { waitUntil } from "./support/processes.ts";
import { getJson, postOrder, startSystem, waitForStatus, type System } from "./support/system.ts";
import { consumersOf, processSpanName, publishSpanName, spanCount } from "./support/trace-shape.ts";
import { startWebhookReceiver, type WebhookReceiver } from "./support/webhook-receiver.ts";
import type { JaegerProcess, VictoriaLogsProcess } from "../scripts/observability.ts";

const CHAIN = ["ORDER_CREATED", "PAYMENT_COMPLETED", "SHIPPING_READY"] as const;
const SERVICES = ["order-service", "payment-service", "shipping-service", "notification-service"] as const;
/** The order's spans: notification POSTs each event to the webhook, a CLIENT span each. */
const SPANS = spanCount(CHAIN, { webhook: true });
/** One line per event a service handles, plus the order service's "order accepted". */
const LOG_LINES = 1 + CHAIN.reduce((n, e) => n + consumersOf(e).length, 0);

interface TraceAnswer {
  orderId: string;
  traceId: string;
  jaegerUrl: string;
  spans: TraceSpan[] | null;
  warning?: string;
}

/** Links of each span in Jaeger's own v3 answer (OTLP JSON): span id → linked span ids. */
async function jaegerLinks(jaeger: JaegerProcess, traceId: string): Promise<Map<string, string[]>> {
  const res = await fetch(`${jaeger.queryUrl}/api/v3/traces/${traceId}`);
  expect(res.status).toBe(200);
  const body = (await res.json()) as {
    result: { resourceSpans: { scopeSpans: { spans: { spanId: string; links?: { traceId: string; spanId: string }[] }[] }[] }[] };
  };
  const links = new Map<string, string[]>();
  for (const rs of body.result.resourceSpans) {
    for (const ss of rs.scopeSpans)
      for (const s of ss.spans)
        links.set(
          s.spanId,
          (s.links ?? []).map((l) => l.spanId),
        );
  }
  return links;
}

describe("trace inspection and central logs against a real Jaeger and a real VictoriaLogs", () => {
  let jaeger: JaegerProcess;
  let logs: VictoriaLogsProcess;
  let webhook: WebhookReceiver;
  let sys: System;
  let orderId: string;
  let traceId: string;
  let placedAt: number;
  let spans: TraceSpan[];
  const cliEnv = () => ({ NATS_URL: sys.nats.url, JAEGER_QUERY_URL: jaeger.queryUrl, VICTORIA_LOGS_QUERY_URL: logs.url });

  beforeAll(async () => {
    [jaeger, logs, webhook] = await Promise.all([startTestJaeger(), startTestVictoriaLogs(), startWebhookReceiver()]);
    sys = await startSystem({
      env: {
        OTEL_TRACES_EXPORTER: "otlp",
        OTEL_EXPORTER_OTLP_ENDPOINT: jaeger.otlpUrl,
        // What npm start gives the services: spans and log lines leave within a second.
        OTEL_BSP_SCHEDULE_DELAY: "1000",
        JAEGER_QUERY_URL: jaeger.queryUrl,
        VICTORIA_LOGS_URL: logs.url,
        LOG_LEVEL: "info",
        NOTIFY_WEBHOOK_URL: webhook.url,
      },
    });
    const posted = await postOrder(sys.orderUrl, { userId: "observed", amount: 30, items: [{ sku: "A-1", quantity: 3, unitPrice: 10 }] });
    expect(posted.status, JSON.stringify(posted.body)).toBe(201);
    ({ orderId, traceId } = posted.body as { orderId: string; traceId: string });
    placedAt = Date.now();
    await waitForStatus(sys.orderUrl, orderId, ["SHIPPING_READY"]);
  }, 120_000);

  afterAll(async () => {
    await sys?.stop();
    await Promise.all([jaeger?.stop(), logs?.stop(), webhook?.close()]);
  });

  it("GET /orders/{id}/trace reads the order's one trace back from Jaeger: all four services, each consumer span a child of its producer and linked to it", async () => {
    const answer = await waitUntil(
      async () => {
        const { status, body } = await getJson(`${sys.orderUrl}/orders/${orderId}/trace`);
        const a = body as TraceAnswer;
        return status === 200 && a.spans && a.spans.length >= SPANS ? a : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 250, what: `the trace of ${orderId} complete in Jaeger` },
    );
    const seenAfterMs = Date.now() - placedAt;
    expect(answer.traceId).toBe(traceId);
    expect(answer.jaegerUrl).toBe(`${jaeger.queryUrl}/trace/${traceId}`);
    expect(answer.warning).toBeUndefined();
    spans = answer.spans!;
    const context = spans.map((s) => `${s.service} ${s.kind} ${s.operation} ${s.spanId}←${s.parentSpanId}`).join("\n");
    expect(spans.length, context).toBe(SPANS);
    expect(new Set(spans.map((s) => s.service)), context).toEqual(new Set(SERVICES));
    expect(
      spans.filter((s) => s.parentSpanId === null).map((s) => s.operation),
      context,
    ).toEqual(["POST /orders"]);

    // Messaging: one send per event, and under it one process span per service delivered it.
    const links = await jaegerLinks(jaeger, traceId);
    for (const eventType of CHAIN) {
      const sends = spans.filter((s) => s.kind === "producer" && s.operation === publishSpanName(eventType));
      expect(sends.length, `publish ${eventType} in\n${context}`).toBe(1);
      const processes = spans.filter((s) => s.kind === "consumer" && s.operation === processSpanName(eventType));
      expect(new Set(processes.map((s) => s.service)), `who processes ${eventType}`).toEqual(new Set(consumersOf(eventType)));
      for (const p of processes) {
        expect(p.parentSpanId, `${p.service} process ${eventType}'s parent`).toBe(sends[0]!.spanId);
        expect(links.get(p.spanId), `${p.service} process ${eventType}'s link`).toContain(sends[0]!.spanId);
        expect(p.attributes["messaging.message.id"]).toBe(sends[0]!.attributes["messaging.message.id"]);
      }
      // The webhook hop: the POST's traceparent names a CLIENT span of this trace, under notification's process span.
      const post = webhook.requests().find((r) => r.body?.orderId === orderId && r.body?.eventType === eventType);
      expect(post, `webhook POST of ${eventType}`).toBeDefined();
      const [, postTraceId, postParent] = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/.exec(String(post!.headers.traceparent)) ?? [];
      expect(postTraceId, `traceparent ${post!.headers.traceparent}`).toBe(traceId);
      const client = spans.find((s) => s.spanId === postParent);
      expect(client, `CLIENT span ${postParent} in\n${context}`).toMatchObject({
        kind: "client",
        operation: "POST",
        service: "notification-service",
      });
      expect(client!.attributes).toMatchObject({
        "http.request.method": "POST",
        "url.full": webhook.url,
        "http.response.status_code": 204,
      });
      const parent = spans.find((s) => s.spanId === client!.parentSpanId);
      expect(parent, `${eventType} POST's parent`).toMatchObject({
        kind: "consumer",
        service: "notification-service",
        operation: processSpanName(eventType),
      });
    }
    console.log(`trace of all four services readable from Jaeger ${seenAfterMs} ms after the POST answered`);
  });

  it("`cli trace` prints the waterfall of all four services and the Jaeger link", async () => {
    const run = await runCli(["trace", orderId], cliEnv());
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain(`Trace ${traceId} (${SPANS} spans, 4 services,`);
    for (const service of SERVICES) expect(run.stdout).toContain(service);
    for (const eventType of CHAIN) expect(run.stdout).toContain(`process ${eventType}`);
    // The webhook POSTs, labelled by where they went.
    expect(run.stdout).toContain(`POST ${new URL(webhook.url).host}`);
    expect(run.stdout).toContain(`Jaeger: ${jaeger.queryUrl}/trace/${traceId}`);
    expect(run.stdout).not.toContain("No spans");
  });

  it("`cli logs` prints the order's lines from every service in time order, and `--json` the same as JSON", async () => {
    const lookup = await waitUntil(
      async () => {
        const l = await fetchOrderLogs({ baseUrl: logs.url, orderId });
        return l.lines && l.lines.length >= LOG_LINES ? l : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 250, what: `${LOG_LINES} log lines of ${orderId} in VictoriaLogs` },
    );
    console.log(`log lines of all four services readable from VictoriaLogs ${Date.now() - placedAt} ms after the POST answered`);
    expect(lookup.lines!.length).toBe(LOG_LINES);

    const text = await runCli(["logs", orderId], cliEnv());
    expect(text.code, text.stderr).toBe(0);
    const printed = text.stdout.split("\n").filter((l) => /^\d{4}-\d\d-\d\dT/.test(l));
    expect(printed).toHaveLength(LOG_LINES);
    const times = printed.map((l) => l.split(/\s+/)[0]!);
    expect([...times].sort()).toEqual(times);
    for (const service of SERVICES)
      expect(
        printed.some((l) => l.includes(service)),
        service,
      ).toBe(true);
    expect(printed[0]).toContain("order accepted");
    expect(text.stdout).toContain(`${LOG_LINES} lines from 4 service(s)`);

    const json = await runCli(["logs", orderId, "--json"], cliEnv());
    expect(json.code, json.stderr).toBe(0);
    const lines = JSON.parse(json.stdout) as LogLine[];
    expect(lines).toHaveLength(LOG_LINES);
    expect(new Set(lines.map((l) => l.service))).toEqual(new Set(SERVICES));
    expect(lines.map((l) => Date.parse(l.time))).toEqual(lines.map((l) => Date.parse(l.time)).sort((a, b) => a - b));
    // Each line names the order, the trace and a span of it: from a log line to its place in the waterfall.
    const spanIds = new Set(spans.map((s) => s.spanId));
    for (const line of lines) {
      expect(line.fields.orderId).toBe(orderId);
      expect(line.fields.trace_id).toBe(traceId);
      expect(spanIds.has(line.fields.span_id!), `${line.service} "${line.msg}" span ${line.fields.span_id}`).toBe(true);
      expect(line.level).toBe("info");
    }
    const handled = lines.filter((l) => l.msg.startsWith("handled "));
    expect(handled.map((l) => `${l.service} ${l.fields.eventType}`).sort()).toEqual(
      CHAIN.flatMap((e) => consumersOf(e).map((s) => `${s} ${e}`)).sort(),
    );
  });

  it("the order page shows the waterfall and, under it, the log lines of every service", async () => {
    const res = await fetch(`${sys.orderUrl}/orders/${orderId}/view`);
    expect(res.status).toBe(200);
    const page = await res.text();
    expect(page.match(/data-span-id="/g)?.length).toBe(SPANS);
    expect(page).not.toContain("No waterfall");
    const logsSection = page.slice(page.indexOf('id="logs-title"'));
    expect(page.indexOf('id="logs-title"')).toBeGreaterThan(page.indexOf('id="waterfall"'));
    expect(logsSection.match(/<tr class="level-info" data-service="/g)?.length).toBe(LOG_LINES);
    for (const service of SERVICES) expect(logsSection).toContain(`data-service="${service}"`);
    expect(logsSection).not.toContain("No logs");
  });

  it("`cli logs` exits 1 with a one-line reason when VictoriaLogs does not answer", async () => {
    const dead = `http://127.0.0.1:${await freePort()}`;
    const run = await runCli(["logs", orderId], { VICTORIA_LOGS_QUERY_URL: dead });
    expect(run.code).toBe(1);
    expect(run.stderr.trim().split("\n")).toHaveLength(1);
    expect(run.stderr).toContain(`VictoriaLogs at ${dead} did not answer (connection refused)`);
  });

  it("a service whose log store is down keeps answering, drops what does not fit its buffer (counted in /metrics), and ships again once the store is back", async () => {
    const port = await freePort();
    const order = await sys.add("order", {
      VICTORIA_LOGS_URL: `http://127.0.0.1:${port}`,
      VICTORIA_LOGS_BUFFER_LINES: "5",
      VICTORIA_LOGS_FLUSH_MS: "50",
    });
    /** A sample of the new instance's /metrics: the series `name` (with `label` among its labels, when given). */
    const metric = async (name: string, label?: string) => {
      const text = await (await fetch(`${order.baseUrl}/metrics`)).text();
      const line = text.split("\n").find((l) => (l.startsWith(`${name}{`) || l.startsWith(`${name} `)) && (!label || l.includes(label)));
      return line === undefined ? NaN : Number(line.slice(line.lastIndexOf(" ") + 1));
    };
    const started = Date.now();
    for (let i = 0; i < 20; i++) {
      const posted = await postOrder(order.baseUrl, { userId: `logs-down-${i}`, amount: 1 });
      expect(posted.status, JSON.stringify(posted.body)).toBe(201);
    }
    expect(Date.now() - started, "20 orders with the log store down").toBeLessThan(10_000);
    expect((await fetch(`${order.baseUrl}/readyz`)).status).toBe(200);
    await waitUntil(async () => (await metric("orderstream_log_lines_dropped_total", 'reason="buffer_full"')) >= 15, {
      timeoutMs: 10_000,
      what: "dropped lines counted",
    });
    expect(await metric("orderstream_log_lines_buffered")).toBeLessThanOrEqual(5);
    expect(await metric("orderstream_log_ship_requests_failed_total")).toBeGreaterThan(0);
    expect(await metric("orderstream_log_lines_shipped_total")).toBe(0);
    expect(order.output()).toContain("log shipping to http://127.0.0.1:");

    // The store comes up where the service expects it: what waited in the buffer arrives.
    const late = await startTestVictoriaLogs({ port });
    try {
      await waitUntil(async () => (await metric("orderstream_log_lines_shipped_total")) >= 5, {
        timeoutMs: 15_000,
        what: "buffered lines shipped once VictoriaLogs is up",
      });
      expect(order.output()).toMatch(/log shipping to http:\/\/127\.0\.0\.1:\d+ works again \(\d+ lines dropped meanwhile\)/);
      expect(await order.stop()).toBe(0);
    } finally {
      await late.stop();
    }
  });
});
