import { diag } from "@opentelemetry/api";
import { ExportResultCode, type ExportResult } from "@opentelemetry/core";
import { BatchSpanProcessor, TracerProvider, type ReadableSpan, type SpanExporter } from "@opentelemetry/sdk-trace";
import { afterEach, describe, expect, it } from "vitest";
import { DROPPED_SPANS_REPORT_MS, reportSdkDiagnostics, type DiagnosticsLog } from "./diagnostics.ts";

/** An exporter whose exports finish only when the test says so: the queue fills behind it. */
function heldExporter() {
  const pending: ((r: ExportResult) => void)[] = [];
  const exporter: SpanExporter = {
    export: (_spans: ReadableSpan[], done: (r: ExportResult) => void) => void pending.push(done),
    shutdown: async () => {},
  };
  return {
    exporter,
    finishAll: () => {
      for (const done of pending.splice(0)) done({ code: ExportResultCode.SUCCESS });
    },
  };
}

function recordingLog() {
  const lines: { level: string; obj: Record<string, unknown>; msg: string }[] = [];
  const at = (level: string) => (obj: object, msg: string) => void lines.push({ level, obj: obj as Record<string, unknown>, msg });
  const log: DiagnosticsLog = { error: at("error"), warn: at("warn"), info: at("info"), debug: at("debug") };
  return { log, lines };
}

function manualClock() {
  let now = 0;
  const timers: { at: number; fn: () => void }[] = [];
  return {
    now: () => now,
    setTimeout: (fn: () => void, ms: number) => void timers.push({ at: now + ms, fn }),
    advance(ms: number) {
      now += ms;
      for (const t of timers.splice(0)) t.at <= now ? t.fn() : timers.push(t);
    },
  };
}

/** A tracer whose batch processor holds 4 spans and exports 4 at a time, one export at a time. */
function smallQueueTracer() {
  const held = heldExporter();
  const provider = new TracerProvider({
    spanProcessors: [
      new BatchSpanProcessor({ exporter: held.exporter, maxQueueSize: 4, maxExportBatchSize: 4, scheduledDelayMillis: 60_000 }),
    ],
  });
  const tracer = provider.getTracer("test");
  const end = (n: number) => {
    for (let i = 0; i < n; i++) tracer.startSpan(`s${i}`).end();
  };
  return { end, finishExports: held.finishAll };
}

afterEach(() => diag.disable());

describe("the trace SDK's diagnostics", () => {
  it("counts the spans the batch processor drops and logs them as one warning", async () => {
    const { log, lines } = recordingLog();
    const diagnostics = reportSdkDiagnostics(log, {}, manualClock());
    const t = smallQueueTracer();
    t.end(4); // a full batch: its export starts and does not finish
    t.end(4 + 3); // the queue fills again; 3 more have no room
    t.finishExports(); // the next batch goes out: room again
    await new Promise((r) => setTimeout(r, 0));
    t.end(1); // the processor reports the drops when a span gets in again

    expect(diagnostics.droppedSpans()).toBe(3);
    const warnings = lines.filter((l) => l.level === "warn");
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.msg).toMatch(/^tracing: 3 spans dropped, the span exporter could not keep up/);
    expect(warnings[0]!.obj).toMatchObject({ component: "opentelemetry", droppedSpans: 3, droppedSpansTotal: 3 });
  });

  it("reports drops at most once per interval, the rest when it ends", () => {
    const { log, lines } = recordingLog();
    const clock = manualClock();
    const diagnostics = reportSdkDiagnostics(log, {}, clock);
    diag.warn("Dropped 5 spans because maxQueueSize reached");
    diag.warn("Dropped 2 spans because maxQueueSize reached");
    diag.warn("Dropped 1 spans because maxQueueSize reached");
    expect(lines.map((l) => l.obj.droppedSpans)).toEqual([5]);
    clock.advance(DROPPED_SPANS_REPORT_MS);
    expect(lines.map((l) => l.obj.droppedSpans)).toEqual([5, 3]);
    expect(diagnostics.droppedSpans()).toBe(8);
  });

  it("passes the SDK's other warnings and errors on, and nothing below warn unless OTEL_LOG_LEVEL asks", () => {
    const { log, lines } = recordingLog();
    reportSdkDiagnostics(log, {}, manualClock());
    diag.warn("Unsupported OTLP traces protocol");
    diag.error("export failed", "ECONNREFUSED");
    diag.info("started");
    expect(lines).toEqual([
      { level: "warn", obj: { component: "opentelemetry" }, msg: "Unsupported OTLP traces protocol" },
      { level: "error", obj: { component: "opentelemetry", args: ["ECONNREFUSED"] }, msg: "export failed" },
    ]);

    const verbose = recordingLog();
    reportSdkDiagnostics(verbose.log, { OTEL_LOG_LEVEL: "debug" }, manualClock());
    diag.info("started");
    expect(verbose.lines.filter((l) => l.level === "info")).toEqual([
      { level: "info", obj: { component: "opentelemetry" }, msg: "started" },
    ]);
  });
});
