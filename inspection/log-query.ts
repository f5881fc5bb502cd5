/**
 * Reads one order's log lines back from VictoriaLogs (LogsQL over `/select/logsql/query`), for the
 * `logs` command and the order page. Web-standard APIs only. Like the trace lookup
 * (inspection/jaeger-client.ts), it never throws: a store that does not answer gives `lines: null` and a
 * warning the user can act on.
 */
import { networkFailureReason } from "../shared/network-error.ts";

/** One log line as stored: its time, service, level, message, and every other field as text. */
export interface LogLine {
  /** RFC 3339 with up to nanoseconds, as VictoriaLogs returns `_time`. */
  time: string;
  service: string;
  level: string;
  msg: string;
  /** The remaining fields (orderId, eventType, seq, consumer, trace_id, span_id, …), without VictoriaLogs' own `_stream*`. */
  fields: Record<string, string>;
}

/** What a lookup found: lines in time order, or null with a warning saying why. */
export interface LogLookup {
  /** The LogsQL query asked. */
  query: string;
  /** VictoriaLogs' web UI, where the query can be run by hand. */
  uiUrl: string;
  lines: LogLine[] | null;
  warning?: string;
}

/** Options of {@link fetchOrderLogs}. */
export interface FetchOrderLogsOptions {
  /** VictoriaLogs base URL, e.g. `http://127.0.0.1:9428`. */
  baseUrl: string;
  orderId: string;
  /** Lines at most (the earliest ones); default 1,000. */
  limit?: number;
  timeoutMs?: number;
  fetch?: typeof fetch;
}

const DEFAULT_TIMEOUT_MS = 3000;
const DEFAULT_LIMIT = 1000;
/** Fields of every line that LogLine has as its own properties, or that say nothing about the line. */
const OWN_FIELDS = new Set(["_time", "_msg", "_stream", "_stream_id", "service", "level", "msg", "time"]);

/**
 * The LogsQL query for one order's lines, oldest first. The id goes in quoted (ids never hold quotes,
 * but escape anyway: the query is text).
 * @example orderLogsQuery("0b0c…") // 'orderId:="0b0c…" | sort by (_time) | limit 1000'
 */
export function orderLogsQuery(orderId: string, limit = DEFAULT_LIMIT): string {
  return `orderId:=${JSON.stringify(orderId)} | sort by (_time) | limit ${Math.max(1, Math.floor(limit))}`;
}

/**
 * An order's log lines from every service, in time order; never throws.
 * @example const { lines, warning } = await fetchOrderLogs({ baseUrl: "http://127.0.0.1:9428", orderId });
 */
export async function fetchOrderLogs(opts: FetchOrderLogsOptions): Promise<LogLookup> {
  const base = opts.baseUrl.trim().replace(/\/+$/, "");
  const query = orderLogsQuery(opts.orderId, opts.limit);
  const lookup = (lines: LogLine[] | null, warning?: string): LogLookup => ({
    query,
    uiUrl: `${base}/select/vmui/`,
    lines,
    ...(warning === undefined ? {} : { warning }),
  });
  if (!isHttpUrl(base)) {
    return lookup(
      null,
      `VICTORIA_LOGS_QUERY_URL "${opts.baseUrl}" is not an http(s) URL; set it to VictoriaLogs' address, e.g. http://127.0.0.1:9428.`,
    );
  }
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  let response: Response;
  let text: string;
  try {
    response = await (opts.fetch ?? globalThis.fetch)(`${base}/select/logsql/query`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/json" },
      body: new URLSearchParams({ query }).toString(),
      signal: AbortSignal.timeout(timeoutMs),
    });
    text = await response.text();
  } catch (error) {
    const reason = networkFailureReason(error);
    return lookup(
      null,
      `VictoriaLogs at ${base} did not answer ${reason === "timeout" ? `within ${timeoutMs} ms` : `(${reason})`}; is it running? Set VICTORIA_LOGS_QUERY_URL (or VICTORIA_LOGS_URL) to its address.`,
    );
  }
  if (!response.ok) {
    return lookup(
      null,
      `VictoriaLogs at ${base} answered HTTP ${response.status}${text.trim() ? ` (${oneLine(text).slice(0, 200)})` : ""}; is that VictoriaLogs' HTTP port (9428 by default)?`,
    );
  }
  const lines: LogLine[] = [];
  for (const raw of text.split("\n")) {
    if (raw.trim() === "") continue;
    let entry: unknown;
    try {
      entry = JSON.parse(raw);
    } catch {
      return lookup(
        null,
        `VictoriaLogs at ${base} answered something that is not JSON lines; is that VictoriaLogs' HTTP port (9428 by default)?`,
      );
    }
    if (typeof entry !== "object" || entry === null || Array.isArray(entry)) continue;
    lines.push(toLine(entry as Record<string, unknown>));
  }
  // The query sorts already; a stable sort keeps that order and guards against a proxy that does not.
  lines.sort((a, b) => compareTimes(a.time, b.time));
  return lookup(lines);
}

function toLine(entry: Record<string, unknown>): LogLine {
  const text = (v: unknown) => (v === undefined || v === null ? "" : typeof v === "string" ? v : JSON.stringify(v));
  const fields: Record<string, string> = {};
  for (const [key, value] of Object.entries(entry)) if (!OWN_FIELDS.has(key)) fields[key] = text(value);
  return {
    time: text(entry._time ?? entry.time),
    service: text(entry.service),
    level: text(entry.level),
    msg: text(entry._msg ?? entry.msg),
    fields,
  };
}

/** RFC 3339 times with different fraction lengths: compare as milliseconds, then by the digits beyond. */
function compareTimes(a: string, b: string): number {
  const ms = Date.parse(a) - Date.parse(b);
  if (Number.isFinite(ms) && ms !== 0) return ms;
  const frac = (t: string) => (/\.(\d+)/.exec(t)?.[1] ?? "").padEnd(9, "0");
  return frac(a) < frac(b) ? -1 : frac(a) > frac(b) ? 1 : 0;
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, " ").trim();
}

function isHttpUrl(url: string): boolean {
  try {
    return ["http:", "https:"].includes(new URL(url).protocol);
  } catch {
    return false;
  }
}
