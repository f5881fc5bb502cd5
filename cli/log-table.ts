/**
 * An order's log lines as terminal text: one line each, in time order — time, service, level,
 * message, then the fields that tie it to the order's events and trace. Pure: lines in, text out.
 */
import type { LogLine } from "../inspection/log-query.ts";

/** Fields shown first, in this order, when a line has them; the rest follow by name. */
const LEADING_FIELDS = ["eventType", "seq", "consumer", "attempt", "durationMs", "trace_id", "span_id"];
/** Fields every line of the order has, or VictoriaLogs adds: not worth repeating. */
const HIDDEN_FIELDS = new Set(["orderId", "instance"]);
const LEVEL_COLORS: Record<string, number> = { trace: 2, debug: 2, info: 32, warn: 33, error: 31, fatal: 31 };
const SERVICE_COLORS = [36, 33, 35, 34, 32, 96, 93, 95] as const;

/**
 * Renders log lines as text, one per line.
 * @example console.log(renderLogLines(lookup.lines, { color: process.stdout.isTTY }))
 */
export function renderLogLines(lines: LogLine[], opts: { color?: boolean } = {}): string {
  if (lines.length === 0) return "(no log lines)";
  const paint = (code: number | undefined, text: string) => (opts.color && code !== undefined ? `\u001b[${code}m${text}\u001b[0m` : text);
  const serviceWidth = Math.max(...lines.map((l) => clean(l.service).length));
  const colors = new Map<string, number>();
  for (const l of lines) if (!colors.has(l.service)) colors.set(l.service, SERVICE_COLORS[colors.size % SERVICE_COLORS.length]!);
  return lines
    .map((line) => {
      const keys = [
        ...LEADING_FIELDS.filter((k) => k in line.fields),
        ...Object.keys(line.fields)
          .filter((k) => !LEADING_FIELDS.includes(k) && !HIDDEN_FIELDS.has(k))
          .sort(),
      ];
      const fields = keys.map((k) => `${clean(k)}=${clean(line.fields[k]!)}`).join(" ");
      return [
        paint(2, clean(displayTime(line.time))),
        paint(colors.get(line.service), clean(line.service).padEnd(serviceWidth)),
        paint(LEVEL_COLORS[line.level], clean(line.level).padEnd(5)),
        clean(line.msg),
        fields ? paint(2, fields) : "",
      ]
        .join("  ")
        .trimEnd();
    })
    .join("\n");
}

/** VictoriaLogs trims the fraction's trailing zeros (`…10.58Z`): show every time with milliseconds, so the column lines up. */
export function displayTime(time: string): string {
  const ms = Date.parse(time);
  return Number.isFinite(ms) ? new Date(ms).toISOString() : time;
}

/** Log text comes from other programs: control characters would drive the terminal. */
function clean(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: replacing control characters is the point
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, "?");
}
