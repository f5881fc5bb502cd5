// The service registry (host/metrics.ts) without a running system: its exposition passes
// promtool's lint, and the JetStream gauges read their source at most once per cache period.
import { describe, expect, it } from "vitest";
import { SpanStatusCode } from "@opentelemetry/api";
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from "@opentelemetry/sdk-trace";
import { activateOutcomeSampling, OutcomeSpanProcessor } from "../otel/outcome-sampling.ts";
import { createMetrics, type JetStreamStats } from "./metrics.ts";
import { promtool } from "../test/support/prometheus.ts";

const stats = (pending: number, deadLetters = 0): JetStreamStats => ({
  consumers: [
    { consumer: "payment-p00", pending, ackPending: 1, redelivered: 0 },
    { consumer: "payment-p01", pending: 0, ackPending: 0, redelivered: 2 },
  ],
  deadLetters,
});

/** The sample lines of one metric name in an exposition. */
const samples = (text: string, name: string) => text.split("\n").filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));

describe("createMetrics", () => {
  it("exposes a registry that passes `promtool check metrics`, observations included", async () => {
    const m = createMetrics("payment");
    m.httpRequests.inc({ method: "GET", route: "/readyz", status: "200" });
    m.httpDuration.observe({ method: "GET", route: "/readyz", status: "200" }, 0.002);
    m.eventsPublished.inc({ event_type: "PAYMENT_COMPLETED", result: "new" });
    m.eventsHandled.inc({ event_type: "ORDER_CREATED", outcome: "ok" });
    m.handlerDuration.observe({ event_type: "ORDER_CREATED" }, 0.01);
    m.orderLatency.observe(0.4);
    m.watchJetStream(async () => stats(3, 2));
    const text = await m.registry.metrics();
    const check = promtool(["check", "metrics"], text);
    expect(check.status, check.output).toBe(0);
    expect(samples(text, "orderstream_consumer_pending_messages")).toEqual([
      'orderstream_consumer_pending_messages{consumer="payment-p00",service="payment"} 3',
      'orderstream_consumer_pending_messages{consumer="payment-p01",service="payment"} 0',
    ]);
    expect(samples(text, "orderstream_consumer_redelivered_messages")).toContain(
      'orderstream_consumer_redelivered_messages{consumer="payment-p01",service="payment"} 2',
    );
    expect(samples(text, "orderstream_dlq_messages")).toEqual(['orderstream_dlq_messages{service="payment"} 2']);
    expect(samples(text, "orderstream_order_e2e_latency_seconds_count")).toEqual([
      'orderstream_order_e2e_latency_seconds_count{service="payment"} 1',
    ]);
  });

  it("counts events and requests through its hooks: each scrape shows the totals so far, direct inc() calls added", async () => {
    const m = createMetrics("shipping");
    m.eventHandled("ORDER_CREATED", "ok", 0.002);
    m.eventHandled("ORDER_CREATED", "ok", 0.003);
    m.eventHandled("PAYMENT_COMPLETED", "retried");
    m.eventPublished("SHIPPING_READY", "new");
    m.httpAnswered("POST", "/orders", "201", 0.004);
    let text = await m.registry.metrics();
    expect(samples(text, "orderstream_events_handled_total")).toEqual([
      'orderstream_events_handled_total{event_type="ORDER_CREATED",outcome="ok",service="shipping"} 2',
      'orderstream_events_handled_total{event_type="PAYMENT_COMPLETED",outcome="retried",service="shipping"} 1',
    ]);
    expect(samples(text, "orderstream_handler_duration_seconds_count")).toEqual([
      'orderstream_handler_duration_seconds_count{service="shipping",event_type="ORDER_CREATED"} 2',
    ]);
    expect(samples(text, "orderstream_events_published_total")).toEqual([
      'orderstream_events_published_total{event_type="SHIPPING_READY",result="new",service="shipping"} 1',
    ]);
    expect(samples(text, "orderstream_http_requests_total")).toEqual([
      'orderstream_http_requests_total{method="POST",route="/orders",status="201",service="shipping"} 1',
    ]);
    m.eventHandled("ORDER_CREATED", "ok", 0.001);
    m.eventsHandled.inc({ event_type: "ORDER_CREATED", outcome: "ok" });
    text = await m.registry.metrics();
    expect(samples(text, "orderstream_events_handled_total")).toContain(
      'orderstream_events_handled_total{event_type="ORDER_CREATED",outcome="ok",service="shipping"} 4',
    );
    // A scrape with nothing new changes nothing.
    expect(samples(await m.registry.metrics(), "orderstream_events_handled_total")).toEqual(
      samples(text, "orderstream_events_handled_total"),
    );
  });

  it("includes process memory, CPU and event-loop lag among the default metrics, under their standard unprefixed names", async () => {
    const text = await createMetrics("order").registry.metrics();
    for (const name of [
      "process_resident_memory_bytes",
      "nodejs_heap_size_used_bytes",
      "nodejs_eventloop_lag_p99_seconds",
      "nodejs_eventloop_lag_seconds",
    ]) {
      expect(text).toContain(`# TYPE ${name} gauge`);
    }
    expect(text).toContain("# TYPE process_cpu_seconds_total counter");
    expect(text).not.toMatch(/^# TYPE orderstream_(process|nodejs)_/m);
  });

  it("exports readiness as 1/0, read from the same answer as /readyz at each scrape (0 until wired)", async () => {
    const m = createMetrics("payment");
    expect(samples(await m.registry.metrics(), "orderstream_ready")).toEqual(['orderstream_ready{service="payment"} 0']);
    let ready = true;
    m.watchReadiness(() => ({ ready }));
    expect(samples(await m.registry.metrics(), "orderstream_ready")).toEqual(['orderstream_ready{service="payment"} 1']);
    ready = false;
    expect(samples(await m.registry.metrics(), "orderstream_ready")).toEqual(['orderstream_ready{service="payment"} 0']);
  });

  it("reads JetStream once per cache period however many scrapes, and keeps the last numbers on errors", async () => {
    const m = createMetrics("payment");
    let reads = 0;
    let fail = false;
    const errors: unknown[] = [];
    m.watchJetStream(
      async () => {
        reads++;
        if (fail) throw new Error("NATS away");
        return stats(reads);
      },
      { maxAgeMs: 60, onError: (err) => errors.push(err) },
    );
    await m.registry.metrics();
    await m.registry.metrics();
    await m.registry.metrics();
    expect(reads).toBe(1);

    await new Promise((r) => setTimeout(r, 80));
    fail = true;
    const text = await m.registry.metrics();
    expect(reads).toBe(2);
    expect(errors).toHaveLength(1);
    // The failed read leaves the gauges at the last good values rather than a false zero.
    expect(samples(text, "orderstream_consumer_pending_messages")[0]).toBe(
      'orderstream_consumer_pending_messages{consumer="payment-p00",service="payment"} 1',
    );
  });

  it("leaves the JetStream gauges empty until a source is wired", async () => {
    const text = await createMetrics("order").registry.metrics();
    expect(text).toContain("# TYPE orderstream_consumer_pending_messages gauge");
    expect(samples(text, "orderstream_consumer_pending_messages")).toEqual([]);
  });

  it("exports the spans the trace SDK dropped at each scrape (zero until a source is wired)", async () => {
    const m = createMetrics("notification");
    expect(samples(await m.registry.metrics(), "orderstream_trace_spans_dropped_total")).toEqual([
      'orderstream_trace_spans_dropped_total{service="notification"} 0',
    ]);
    let dropped = 250;
    m.watchDroppedSpans(() => dropped);
    expect(samples(await m.registry.metrics(), "orderstream_trace_spans_dropped_total")).toEqual([
      'orderstream_trace_spans_dropped_total{service="notification"} 250',
    ]);
    dropped = 300;
    expect(samples(await m.registry.metrics(), "orderstream_trace_spans_dropped_total")).toEqual([
      'orderstream_trace_spans_dropped_total{service="notification"} 300',
    ]);
  });

  it("exports the outcome sampling policy's spans let go and traces kept at each scrape (zero while the policy is off)", async () => {
    const m = createMetrics("payment");
    const counters = async () => {
      const text = await m.registry.metrics();
      return [...samples(text, "orderstream_trace_spans_sampled_out_total"), ...samples(text, "orderstream_traces_kept_total")];
    };
    expect(await counters()).toEqual([
      'orderstream_trace_spans_sampled_out_total{service="payment"} 0',
      'orderstream_traces_kept_total{service="payment"} 0',
    ]);
    // The policy's own processor (holding 2 spans) in front of a real exporter, fed spans by a real tracer.
    const policy = new OutcomeSpanProcessor(new SimpleSpanProcessor({ exporter: new InMemorySpanExporter() }), {
      happyRatio: 0,
      holdSpans: 2,
    });
    const provider = new TracerProvider({ spanProcessors: [policy] });
    const tracer = provider.getTracer("metrics-spec");
    activateOutcomeSampling(policy);
    try {
      // Three happy traces of one span each: the hold keeps two, the first is let go.
      for (let i = 0; i < 3; i++) tracer.startSpan("process ORDER_CREATED").end();
      const failed = tracer.startSpan("process ORDER_CREATED");
      failed.setStatus({ code: SpanStatusCode.ERROR });
      failed.end();
      policy.keep("0af7651916cd43dd8448eb211c80319c", false);
      expect(await counters()).toEqual([
        'orderstream_trace_spans_sampled_out_total{service="payment"} 1',
        'orderstream_traces_kept_total{service="payment"} 2',
      ]);
      const text = await m.registry.metrics();
      const check = promtool(["check", "metrics"], text);
      expect(check.status, check.output).toBe(0);
    } finally {
      activateOutcomeSampling(undefined);
      await provider.shutdown();
    }
  });

  it("exports the log shipper's totals at each scrape (zero while nothing is shipped), and still passes promtool", async () => {
    const m = createMetrics("shipping");
    const idle = await m.registry.metrics();
    expect(samples(idle, "orderstream_log_lines_dropped_total")).toEqual([
      'orderstream_log_lines_dropped_total{reason="buffer_full",service="shipping"} 0',
      'orderstream_log_lines_dropped_total{reason="rejected",service="shipping"} 0',
    ]);
    let stats = { shipped: 120, dropped: { bufferFull: 7, rejected: 2 }, buffered: 40, failedRequests: 3 };
    m.watchLogShipping(() => stats);
    const text = await m.registry.metrics();
    expect(samples(text, "orderstream_log_lines_shipped_total")).toEqual(['orderstream_log_lines_shipped_total{service="shipping"} 120']);
    expect(samples(text, "orderstream_log_lines_dropped_total")).toEqual([
      'orderstream_log_lines_dropped_total{reason="buffer_full",service="shipping"} 7',
      'orderstream_log_lines_dropped_total{reason="rejected",service="shipping"} 2',
    ]);
    expect(samples(text, "orderstream_log_ship_requests_failed_total")).toEqual([
      'orderstream_log_ship_requests_failed_total{service="shipping"} 3',
    ]);
    expect(samples(text, "orderstream_log_lines_buffered")).toEqual(['orderstream_log_lines_buffered{service="shipping"} 40']);
    const check = promtool(["check", "metrics"], text);
    expect(check.status, check.output).toBe(0);
    stats = { ...stats, shipped: 160, buffered: 0 };
    const later = await m.registry.metrics();
    expect(samples(later, "orderstream_log_lines_shipped_total")).toEqual(['orderstream_log_lines_shipped_total{service="shipping"} 160']);
  });
});
