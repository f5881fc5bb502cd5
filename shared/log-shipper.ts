/**
 * Ships a service's JSON log lines to VictoriaLogs without ever holding the service up: `write` only
 * appends the line to a bounded in-memory buffer; batches leave in the background through `fetch`.
 * Web-standard APIs only (fetch, AbortSignal, timers), so Node and Deno run the same code; the
 * Node entry hands it a cheaper node:http transport (host/runtime/node.ts).
 *
 * Why JSON lines to `/insert/jsonline`, not OTLP: the lines are already the JSON pino writes, and
 * VictoriaLogs' JSON stream API takes them as they are, any number per request, naming the message,
 * time and stream fields in the query string (docs/victorialogs/data-ingestion/README.md, "JSON
 * stream API" and "HTTP parameters", VictoriaLogs v1.52.2). Its OTLP endpoint
 * (`/insert/opentelemetry/v1/logs`) takes protobuf only — app/vlinsert/opentelemetry/opentelemetry.go
 * answers JSON with "json encoding isn't supported … Use protobuf encoding" — so OTLP would mean the
 * logs SDK, a protobuf exporter and a pino bridge in every service: a second encoding of every line,
 * for fields VictoriaLogs then flattens back into the same columns. The stream fields are `service`
 * and `instance` (constant for a process), never ids such as trace_id or orderId, as the docs require
 * (docs/victorialogs/keyConcepts.md, "How to determine which fields must be associated with log streams").
 *
 * When VictoriaLogs does not answer, the batch is retried with growing pauses and new lines wait in
 * the buffer; once the buffer is full, new lines are dropped (like OpenTelemetry's batch processors:
 * O(1), and what is kept stays in time order) and counted. A batch VictoriaLogs refuses as malformed
 * (4xx) is dropped and counted too: sending it again would not help. The lines still go to stdout.
 */
import { networkFailureReason } from "./network-error.ts";

/** Options of {@link createLogShipper}. */
export interface LogShipperOptions {
  /** VictoriaLogs base URL, e.g. `http://127.0.0.1:9428` (VICTORIA_LOGS_URL). */
  url: string;
  /** Fields VictoriaLogs adds to every line (`extra_fields`), e.g. `{ instance: "<uuid>" }`. */
  extraFields?: Record<string, string>;
  /** Fields naming a line's stream: constant per process. Default `service`, `instance`. */
  streamFields?: string[];
  /** Lines waiting at most (the batch in flight included); beyond, new lines are dropped. Default {@link DEFAULT_MAX_BUFFERED_LINES}. */
  maxBufferedLines?: number;
  /** Characters waiting at most, the same way. Default 8 Mi. */
  maxBufferedChars?: number;
  /**
   * Lines waiting that make a request leave at once (default 1,000); fewer wait for the flush
   * interval. A request carries everything waiting, so when requests slow down (a store or a machine
   * under load) each carries more, instead of the lines piling up behind a fixed batch size.
   */
  batchLines?: number;
  /** A line waits at most this long for its batch to fill. Default 1,000 ms. */
  flushIntervalMs?: number;
  /** Per request. Default 5,000 ms. */
  requestTimeoutMs?: number;
  /** Longest pause between attempts while VictoriaLogs does not answer. Default 5,000 ms. */
  maxRetryDelayMs?: number;
  /**
   * How a batch is POSTed: default {@link fetchPost} (global fetch, any runtime). The Node entry
   * passes a node:http one with a keep-alive agent, which costs a third of fetch's CPU per line.
   */
  post?: HttpPost;
  /**
   * Told when shipping starts failing (once per outage, with the reason) and when it works again
   * (with the lines dropped meanwhile). Not through the logger: its lines would come back here.
   */
  onStateChange?(change: { state: "failing"; reason: string } | { state: "recovered"; dropped: number }): void;
}

/** Totals since the shipper was created. */
export interface LogShippingStats {
  /** Lines VictoriaLogs accepted. */
  shipped: number;
  /** Lines given up: the buffer was full, or VictoriaLogs refused their batch. */
  dropped: { bufferFull: number; rejected: number };
  /** Lines waiting now (the batch in flight included). */
  buffered: number;
  /** Requests that failed and were (or will be) retried. */
  failedRequests: number;
}

/** A running shipper: the logger's second destination. */
export interface LogShipper {
  /** Takes one line (with its trailing newline, as pino writes it); never blocks, never throws. */
  write(line: string): void;
  /** Sends what is buffered now; resolves when it is sent, refused, or the attempt failed. */
  flush(): Promise<void>;
  /** Stops: sends what is buffered, retrying within `timeoutMs` (default 2,000), then gives up. Later lines are ignored. */
  close(timeoutMs?: number): Promise<void>;
  stats(): LogShippingStats;
}

/**
 * Lines a shipper holds at most by default: about 7 MB. On the 2-core bench machine at saturation a
 * request takes 1-2 s to come back (the service's event loop and CPU are shared by six busy
 * processes) while the notification service writes ~5,000 lines a second; 10,000 dropped lines there.
 */
export const DEFAULT_MAX_BUFFERED_LINES = 20_000;

const DEFAULTS = {
  maxBufferedLines: DEFAULT_MAX_BUFFERED_LINES,
  maxBufferedChars: 8 * 1024 * 1024,
  batchLines: 1_000,
  flushIntervalMs: 1_000,
  requestTimeoutMs: 5_000,
  maxRetryDelayMs: 5_000,
};

/**
 * The insert URL for pino's lines: message in `msg`, time in `time` (ISO 8601), stream fields and extra fields.
 * @example jsonLineInsertUrl("http://127.0.0.1:9428", ["service", "instance"], { instance: "i-1" })
 */
export function jsonLineInsertUrl(base: string, streamFields: string[], extraFields: Record<string, string> = {}): string {
  const params = new URLSearchParams({ _msg_field: "msg", _time_field: "time", _stream_fields: streamFields.join(",") });
  const extra = Object.entries(extraFields).map(([k, v]) => `${k}=${v}`);
  if (extra.length > 0) params.set("extra_fields", extra.join(","));
  return `${base.trim().replace(/\/+$/, "")}/insert/jsonline?${params}`;
}

type Outcome = "sent" | "refused" | "failed";

/** One POST of a text body: the answer's status and text, or a rejection when there is none (network, timeout). */
export type HttpPost = (
  url: string,
  request: { headers: Record<string, string>; body: string; timeoutMs: number },
) => Promise<{ status: number; text: string }>;

/**
 * {@link HttpPost} over `fetch` (Web standard: Node, Deno, tests with a fake).
 * @example createLogShipper({ url, post: fetchPost(myFetch) })
 */
export function fetchPost(fetchImpl: typeof fetch = globalThis.fetch): HttpPost {
  return async (url, { headers, body, timeoutMs }) => {
    const response = await fetchImpl(url, { method: "POST", headers, body, signal: AbortSignal.timeout(timeoutMs) });
    return { status: response.status, text: await response.text() };
  };
}

/**
 * Starts a shipper; pass its `write` to the logger (shared/logger.ts `createLogger(…, ship)`).
 * @example const shipper = createLogShipper({ url: "http://127.0.0.1:9428", extraFields: { instance } });
 */
export function createLogShipper(options: LogShipperOptions): LogShipper {
  const o = { ...DEFAULTS, ...options };
  const doPost = options.post ?? fetchPost();
  const url = jsonLineInsertUrl(o.url, o.streamFields ?? ["service", "instance"], o.extraFields);
  let buffer: string[] = [];
  let bufferedChars = 0;
  let inFlight: string[] = [];
  let inFlightChars = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let sending: Promise<void> | undefined;
  let closed = false;
  let failures = 0;
  let failing = false;
  /** Dropped lines counted when shipping last worked: a recovery reports those dropped since. */
  let droppedAtLastSuccess = 0;
  /** A timer, flush() or close() asked for everything buffered, not only full batches. */
  let drainAll = false;
  const totals = { shipped: 0, bufferFull: 0, rejected: 0, failedRequests: 0 };

  const dropped = () => totals.bufferFull + totals.rejected;

  /** The next send within `ms` (a retry replaces a later flush; otherwise an earlier one stands). */
  const schedule = (ms: number, replace = false) => {
    if (closed) return;
    if (timer !== undefined) {
      if (!replace) return;
      clearTimeout(timer);
    }
    timer = setTimeout(() => {
      timer = undefined;
      void pump(true);
    }, ms);
  };

  async function post(batch: string[]): Promise<Outcome> {
    try {
      const { status, text } = await doPost(url, {
        headers: { "content-type": "application/stream+json" },
        body: batch.join(""),
        timeoutMs: o.requestTimeoutMs,
      });
      if (status >= 200 && status < 300) return "sent";
      // 4xx but 408/429: the request itself is wrong, and will stay so.
      if (status >= 400 && status < 500 && status !== 408 && status !== 429) {
        noteFailure(`VictoriaLogs refused a batch of ${batch.length} lines: HTTP ${status} ${text.slice(0, 200)}`);
        return "refused";
      }
      noteFailure(`VictoriaLogs answered HTTP ${status}`);
      return "failed";
    } catch (error) {
      noteFailure(networkFailureReason(error));
      return "failed";
    }
  }

  function noteFailure(reason: string): void {
    if (failing) return;
    failing = true;
    options.onStateChange?.({
      state: "failing",
      reason: `log shipping to ${o.url} failed (${reason}); buffering up to ${o.maxBufferedLines} lines, dropping beyond`,
    });
  }

  function noteSuccess(): void {
    failures = 0;
    if (failing) {
      failing = false;
      options.onStateChange?.({ state: "recovered", dropped: dropped() - droppedAtLastSuccess });
    }
    droppedAtLastSuccess = dropped();
  }

  /**
   * Sends what is waiting — at once when a batch's worth is, and everything when the timer, flush or
   * close asks (`all`) — one request at a time, until nothing is due or a request fails (then a timer
   * retries). A remainder smaller than a batch waits for the timer: under load, a stream of tiny
   * requests would cost more than the lines. `sending` is cleared only once the loop has settled (in
   * `finally`, a microtask later), so a loop that had nothing to do cannot leave it set for good.
   */
  function pump(all = false): Promise<void> {
    if (all) drainAll = true;
    sending ??= sendWhileDue().finally(() => (sending = undefined));
    return sending;
  }

  async function sendWhileDue(): Promise<void> {
    for (;;) {
      if (inFlight.length === 0) {
        if (buffer.length === 0) {
          drainAll = false;
          return;
        }
        if (buffer.length < o.batchLines && !drainAll) {
          schedule(o.flushIntervalMs);
          return;
        }
        inFlight = buffer;
        inFlightChars = bufferedChars;
        buffer = [];
        bufferedChars = 0;
      }
      const outcome = await post(inFlight);
      if (outcome === "failed") {
        totals.failedRequests++;
        failures++;
        // The batch stays in flight; new lines keep queueing behind it, up to the bound.
        schedule(Math.min(o.maxRetryDelayMs, 250 * 2 ** Math.min(failures - 1, 10)), true);
        return;
      }
      if (outcome === "sent") {
        totals.shipped += inFlight.length;
        noteSuccess();
      } else {
        totals.rejected += inFlight.length;
      }
      inFlight = [];
      inFlightChars = 0;
    }
  }

  return {
    write(line) {
      if (closed) return;
      if (buffer.length + inFlight.length >= o.maxBufferedLines || bufferedChars + inFlightChars + line.length > o.maxBufferedChars) {
        totals.bufferFull++;
        return;
      }
      buffer.push(line);
      bufferedChars += line.length;
      // A batch's worth leaves at once (unless a retry is waiting: then its timer decides); whatever
      // is left waits at most the interval (schedule keeps an earlier timer).
      if (buffer.length >= o.batchLines && failures === 0) void pump();
      schedule(o.flushIntervalMs);
    },
    async flush() {
      if (timer !== undefined) {
        clearTimeout(timer);
        timer = undefined;
      }
      await pump(true);
    },
    async close(timeoutMs = 2_000) {
      if (closed) return;
      const deadline = Date.now() + timeoutMs;
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      closed = true;
      while (buffer.length + inFlight.length > 0 && Date.now() < deadline) {
        const before = totals.failedRequests;
        let waited: ReturnType<typeof setTimeout> | undefined;
        await Promise.race([pump(true), new Promise((r) => (waited = setTimeout(r, Math.max(0, deadline - Date.now()))))]);
        clearTimeout(waited);
        if (totals.failedRequests > before) await new Promise((r) => setTimeout(r, Math.min(250, Math.max(0, deadline - Date.now()))));
      }
      // What could not be sent in time is lost: count it.
      totals.bufferFull += buffer.length + inFlight.length;
      buffer = [];
      inFlight = [];
      bufferedChars = inFlightChars = 0;
    },
    stats() {
      return {
        shipped: totals.shipped,
        dropped: { bufferFull: totals.bufferFull, rejected: totals.rejected },
        buffered: buffer.length + inFlight.length,
        failedRequests: totals.failedRequests,
      };
    },
  };
}
