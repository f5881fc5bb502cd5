/**
 * A trace as a terminal waterfall: one line per span in the order of the span tree
 * (inspection/span-tree.ts), text columns on the left and a bar in a fixed-width lane on the right,
 * positioned proportionally to the trace's time span.
 * Pure functions from spans to text; the caller decides where it goes and whether to colour it.
 */
import { type SpanRow, spanTree } from "../inspection/span-tree.ts";
import { spanLabel, type TraceLookup, type TraceSpan } from "../inspection/trace-span.ts";

/** Options of {@link renderWaterfall} and {@link renderTraceReport}. */
export interface WaterfallOptions {
  /** Width of the bar lane in characters (the text columns come on top of it); default 40. */
  width?: number;
  /** ANSI colours (service colours, red errors); default false, the caller knows whether it is a TTY. */
  color?: boolean;
}

const DEFAULT_LANE_WIDTH = 40;
const MIN_LANE_WIDTH = 10;
const INDENT = "  ";
const MAX_SERVICE_WIDTH = 28;
const MAX_OPERATION_WIDTH = 40;
const HEADERS = ["SERVICE", "OPERATION", "KIND", "START", "DURATION", "STATUS"] as const;
const SERVICE_COLORS = [36, 33, 35, 34, 32, 96, 93, 95] as const;

/**
 * Renders spans as a waterfall, children indented under their parents.
 * @example console.log(renderWaterfall(lookup.spans, { width: 50, color: process.stdout.isTTY }))
 */
export function renderWaterfall(spans: TraceSpan[], opts: WaterfallOptions = {}): string {
  if (spans.length === 0) return "(no spans)";
  const laneWidth = Math.max(MIN_LANE_WIDTH, Math.floor(opts.width ?? DEFAULT_LANE_WIDTH));
  const paint = painter(opts.color ?? false);
  const { rows, durationUs: totalUs } = spanTree(spans);
  const serviceColor = colorsByService(rows);

  const cells = rows.map(({ span, depth, offsetUs }) => [
    INDENT.repeat(depth) + clean(span.service),
    clean(spanLabel(span)),
    span.kind ?? "",
    formatMs(offsetUs),
    formatMs(span.durationUs),
    span.status,
  ]);
  const widths = HEADERS.map((header, i) => Math.max(header.length, ...cells.map((row) => row[i]!.length)));
  widths[0] = Math.min(widths[0]!, MAX_SERVICE_WIDTH);
  widths[1] = Math.min(widths[1]!, MAX_OPERATION_WIDTH);
  const numeric = (i: number) => i === 3 || i === 4;
  const layout = (values: readonly string[]) => values.map((v, i) => (numeric(i) ? v.padStart(widths[i]!) : fit(v, widths[i]!)));

  const header = paint(2, [...layout(HEADERS), timeAxis(totalUs, laneWidth)].join("  "));
  const lines = rows.map(({ span, offsetUs }, r) => {
    const [service, operation, kind, start, duration, status] = layout(cells[r]!);
    const color = span.status === "error" ? 31 : serviceColor.get(span.service)!;
    const statusColor = span.status === "error" ? 31 : span.status === "ok" ? 32 : 2;
    const lane = bar(offsetUs, span.durationUs, totalUs, laneWidth);
    const indent = service!.length - service!.trimStart().length;
    return [
      service!.slice(0, indent) + paint(color, service!.slice(indent)),
      operation,
      paint(2, kind!),
      start,
      duration,
      paint(statusColor, status!),
      `|${paint(color, lane)}|`,
    ]
      .join("  ")
      .trimEnd();
  });
  return [header, ...lines].join("\n");
}

/**
 * The whole `trace` command output: trace id, the waterfall (or why there is none), the Jaeger link last.
 * @example console.log(renderTraceReport(await fetchTrace({ baseUrl, traceId })))
 */
export function renderTraceReport(lookup: TraceLookup, opts: WaterfallOptions = {}): string {
  const paint = painter(opts.color ?? false);
  const lines = [`Trace ${lookup.traceId}${lookup.spans ? summary(lookup.spans) : ""}`, ""];
  if (lookup.spans) lines.push(renderWaterfall(lookup.spans, opts));
  else lines.push(paint(33, `No spans: ${lookup.warning ?? "Jaeger returned nothing for this trace."}`));
  if (lookup.spans && lookup.warning) lines.push("", paint(33, `Note: ${lookup.warning}`));
  lines.push("", `Jaeger: ${lookup.jaegerUrl}`);
  return lines.join("\n");
}

/** The bar covers [start, end) of the lane, at least one cell so even a 0 µs span is visible. */
function bar(offsetUs: number, durationUs: number, totalUs: number, laneWidth: number): string {
  const scale = totalUs > 0 ? laneWidth / totalUs : 0;
  const from = Math.min(laneWidth - 1, Math.floor(offsetUs * scale));
  const to = Math.min(laneWidth, Math.max(from + 1, Math.ceil((offsetUs + durationUs) * scale)));
  return " ".repeat(from) + "█".repeat(to - from) + " ".repeat(laneWidth - to);
}

function timeAxis(totalUs: number, laneWidth: number): string {
  const end = formatMs(totalUs);
  return `|0${end.padStart(laneWidth - 1)}|`;
}

function summary(spans: TraceSpan[]): string {
  if (spans.length === 0) return " (no spans)";
  const services = new Set(spans.map((s) => s.service)).size;
  const { durationUs } = spanTree(spans);
  const errors = spans.filter((s) => s.status === "error").length;
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;
  return ` (${plural(spans.length, "span")}, ${plural(services, "service")}, ${formatMs(durationUs)}${errors ? `, ${plural(errors, "error")}` : ""})`;
}

/** Sub-millisecond spans (in-process handlers) need µs precision, long ones do not. */
function formatMs(us: number): string {
  const ms = us / 1000;
  return `${ms.toFixed(ms < 1 ? 3 : ms < 100 ? 2 : 1)} ms`;
}

function colorsByService(rows: SpanRow[]): Map<string, number> {
  const colors = new Map<string, number>();
  for (const { span } of rows) {
    if (!colors.has(span.service)) colors.set(span.service, SERVICE_COLORS[colors.size % SERVICE_COLORS.length]!);
  }
  return colors;
}

function painter(enabled: boolean): (code: number, text: string) => string {
  return (code, text) => (enabled && text.trim() !== "" ? `\u001b[${code}m${text}\u001b[0m` : text);
}

function fit(text: string, width: number): string {
  return text.length > width ? `${text.slice(0, width - 1)}…` : text.padEnd(width);
}

/** Span names come from other programs; control characters would drive the terminal. */
function clean(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: replacing control characters is the point
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, "?");
}
