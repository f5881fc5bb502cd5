/**
 * A minimal local OTLP/HTTP trace receiver for the tracing-cost run: answers 200 at once and only
 * counts requests, bytes and spans, so the receiver itself costs next to nothing.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

export interface OtlpSink {
  url: string;
  stats(): { requests: number; bytes: number; spans: number };
  /**
   * From now on also counts the spans of these traces, by trace id (each JSON body is then parsed:
   * meant for a few orders after a load, not during one).
   */
  watchTraces(traceIds: Iterable<string>): void;
  /** Spans received of a watched trace. */
  spansOf(traceId: string): number;
  close(): Promise<void>;
}

// Each span has a kind; a link (a CONSUMER span's to its producer) has a spanId too, so count kinds.
const SPAN_KIND = Buffer.from('"kind":');

function countOccurrences(buf: Buffer, needle: Buffer): number {
  let n = 0;
  for (let i = buf.indexOf(needle); i !== -1; i = buf.indexOf(needle, i + needle.length)) n++;
  return n;
}

export async function startOtlpSink(): Promise<OtlpSink> {
  let requests = 0;
  let bytes = 0;
  let spans = 0;
  const watched = new Map<string, number>();
  const countWatched = (body: Buffer) => {
    const request = JSON.parse(body.toString("utf8")) as {
      resourceSpans?: { scopeSpans?: { spans?: { traceId?: string }[] }[] }[];
    };
    for (const rs of request.resourceSpans ?? [])
      for (const ss of rs.scopeSpans ?? [])
        for (const span of ss.spans ?? []) {
          const n = span.traceId === undefined ? undefined : watched.get(span.traceId);
          if (n !== undefined) watched.set(span.traceId!, n + 1);
        }
  };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      requests++;
      bytes += body.length;
      // JSON bodies only (what otel/sdk.ts sends); protobuf would be counted as bytes alone.
      if (String(req.headers["content-type"] ?? "").includes("json")) {
        spans += countOccurrences(body, SPAN_KIND);
        if (watched.size > 0) countWatched(body);
      }
      res.writeHead(200, { "content-type": "application/json" }).end("{}");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    stats: () => ({ requests, bytes, spans }),
    watchTraces: (ids) => {
      for (const id of ids) if (!watched.has(id)) watched.set(id, 0);
    },
    spansOf: (id) => watched.get(id) ?? 0,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
