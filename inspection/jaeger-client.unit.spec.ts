// fetchTrace end to end against recorded Jaeger answers: the HTTP side (inspection/jaeger-client.ts)
// and, through it, the mapping of both answer formats (inspection/jaeger-spans.ts).
import { createServer, type RequestListener, type Server } from "node:http";
import { readFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { fetchTrace, jaegerTraceUrl } from "./jaeger-client.ts";
import type { TraceSpan } from "./trace-span.ts";

const BASE = "http://jaeger.test:16686";
const TRACE_ID = "00000000000000000000000000000001";
const OTLP_TRACE_ID = "83a9efd15c1c98a977e0711cc93ee28b";

const fixture = (name: string): string => readFileSync(new URL(`../test/fixtures/jaeger/${name}`, import.meta.url), "utf8");
const v1Trace = fixture("api_v1_get_trace.json");
const v1FromOtlp = fixture("api_v1_get_trace_otlp2jaeger.json");
const v3Snapshot = fixture("api_v3_get_trace.json");
const v3FromOtlp = JSON.stringify({ result: JSON.parse(fixture("otlp2jaeger_in.json")) });

// What Jaeger answers for a trace it does not hold, per API version.
const V3_NOT_FOUND = JSON.stringify({ error: { httpCode: 404, message: "No traces found" } });
const V1_NOT_FOUND = JSON.stringify({ data: null, total: 0, limit: 0, offset: 0, errors: [{ code: 404, msg: "trace not found" }] });

type Reply = { status: number; body: string; contentType?: string };
type Routes = { v3?: Reply; v1?: Reply };

/** A fake Jaeger behind an injected fetch; records the URLs asked, in order. */
function fakeJaeger(routes: Routes) {
  const asked: string[] = [];
  const fetchStub: typeof fetch = async (input) => {
    const url = String(input);
    asked.push(url);
    const reply = url.includes("/api/v3/traces/") ? routes.v3 : url.includes("/api/traces/") ? routes.v1 : undefined;
    const { status, body, contentType } = reply ?? { status: 404, body: "404 page not found", contentType: "text/plain" };
    return new Response(body, { status, headers: { "content-type": contentType ?? "application/json" } });
  };
  return { fetch: fetchStub, asked };
}

const ok = (body: string): Reply => ({ status: 200, body });
const edit = (json: string, change: (doc: any) => void): string => {
  const doc = JSON.parse(json);
  change(doc);
  return JSON.stringify(doc);
};
const byOperation = (spans: TraceSpan[] | null, operation: string) => spans?.filter((s) => s.operation === operation) ?? [];

describe("fetchTrace, v3 API (OTLP JSON)", () => {
  it("reads Jaeger's GetTrace snapshot: hex ids, numeric kind and status, no v1 request", async () => {
    const jaeger = fakeJaeger({ v3: ok(v3Snapshot), v1: ok(v1Trace) });
    const lookup = await fetchTrace({ baseUrl: BASE, traceId: TRACE_ID, fetch: jaeger.fetch });

    expect(jaeger.asked).toEqual([`${BASE}/api/v3/traces/${TRACE_ID}`]);
    expect(lookup.warning).toBeUndefined();
    expect(lookup.spans).toEqual([
      {
        spanId: "0000000000000002",
        parentSpanId: null,
        service: "unknown_service",
        operation: "foobar",
        kind: "server",
        startTimeUs: 0,
        durationUs: 0,
        status: "error",
        attributes: {},
      },
    ]);
  });

  it("takes service from the resource, times from nanoseconds, drops the duplicate span, roots the absent parent", async () => {
    const jaeger = fakeJaeger({ v3: ok(v3FromOtlp) });
    const lookup = await fetchTrace({ baseUrl: BASE, traceId: OTLP_TRACE_ID, fetch: jaeger.fetch });

    expect(lookup.spans).toEqual([
      {
        spanId: "e127af99e3b3e074",
        parentSpanId: null, // 909541b92cf05311 is not part of the trace
        service: "telemetrygen",
        operation: "okey-dokey-0",
        kind: "server",
        startTimeUs: 1706678909209712,
        durationUs: 123,
        status: "unset",
        attributes: { "net.peer.ip": "1.2.3.4", "peer.service": "telemetrygen-client" },
      },
    ]);
  });

  it("reads base64 ids (older Jaeger gateways) the same as hex ones", async () => {
    const hexToBase64 = (hex: string) => btoa(String.fromCharCode(...hex.match(/../g)!.map((b) => parseInt(b, 16))));
    const base64Body = edit(v3FromOtlp, (doc) => {
      const spans = doc.result.resourceSpans[0].scopeSpans[0].spans;
      spans[1].spanId = "0123456789abcdef"; // a distinct child whose parent is the first span
      spans[1].parentSpanId = spans[0].spanId;
      for (const span of spans) {
        span.traceId = hexToBase64(span.traceId);
        span.spanId = hexToBase64(span.spanId);
        span.parentSpanId = hexToBase64(span.parentSpanId);
      }
    });
    expect(base64Body).not.toContain("e127af99e3b3e074");

    const lookup = await fetchTrace({ baseUrl: BASE, traceId: OTLP_TRACE_ID, fetch: fakeJaeger({ v3: ok(base64Body) }).fetch });

    expect(lookup.spans?.map((s) => [s.spanId, s.parentSpanId])).toEqual([
      ["e127af99e3b3e074", null],
      ["0123456789abcdef", "e127af99e3b3e074"],
    ]);
  });

  it("maps enum names, status message and typed attribute values", async () => {
    const body = edit(v3FromOtlp, (doc) => {
      const [first, second] = doc.result.resourceSpans[0].scopeSpans[0].spans;
      first.kind = "SPAN_KIND_PRODUCER";
      first.status = { code: "STATUS_CODE_OK" };
      first.attributes = [
        { key: "retry.count", value: { intValue: "3" } },
        { key: "ratio", value: { doubleValue: 0.25 } },
        { key: "redelivered", value: { boolValue: false } },
        { key: "tags", value: { arrayValue: { values: [{ stringValue: "a" }, { intValue: "2" }] } } },
      ];
      second.spanId = "00000000000000aa";
      second.kind = 5;
      second.status = { code: 2, message: "payment declined" };
    });
    const lookup = await fetchTrace({ baseUrl: BASE, traceId: OTLP_TRACE_ID, fetch: fakeJaeger({ v3: ok(body) }).fetch });

    const [producer, consumer] = lookup.spans!;
    expect([producer!.kind, producer!.status]).toEqual(["producer", "ok"]);
    expect(producer!.attributes).toEqual({ "retry.count": 3, ratio: 0.25, redelivered: false, tags: '["a",2]' });
    expect([consumer!.kind, consumer!.status]).toEqual(["consumer", "error"]);
    expect(consumer!.attributes["otel.status_description"]).toBe("payment declined");
  });

  it("sorts spans by start time", async () => {
    const body = edit(v3FromOtlp, (doc) => {
      const spans = doc.result.resourceSpans[0].scopeSpans[0].spans;
      spans[1].spanId = "00000000000000bb";
      spans[1].name = "earlier";
      spans[1].startTimeUnixNano = "1706678909209000000";
    });
    const lookup = await fetchTrace({ baseUrl: BASE, traceId: OTLP_TRACE_ID, fetch: fakeJaeger({ v3: ok(body) }).fetch });

    expect(lookup.spans?.map((s) => s.operation)).toEqual(["earlier", "okey-dokey-0"]);
    expect(lookup.spans?.map((s) => s.startTimeUs)).toEqual([1706678909209000, 1706678909209712]);
  });
});

describe("fetchTrace, v1 API (fallback)", () => {
  it("falls back to v1 when v3 answers 404, and reads Jaeger's edge-case trace", async () => {
    const jaeger = fakeJaeger({ v3: { status: 404, body: V3_NOT_FOUND }, v1: ok(v1Trace) });
    const lookup = await fetchTrace({ baseUrl: BASE, traceId: TRACE_ID, fetch: jaeger.fetch });

    expect(jaeger.asked).toEqual([`${BASE}/api/v3/traces/${TRACE_ID}`, `${BASE}/api/traces/${TRACE_ID}`]);
    expect(lookup.warning).toBeUndefined();
    expect(lookup.spans?.map((s) => [s.spanId, s.parentSpanId, s.service, s.operation])).toEqual([
      // the repeated span id: two different spans, both kept
      ["0000000000000002", null, "service-x", "test-general-conversion"],
      ["0000000000000002", null, "service-x", "some-operation"],
      ["0000000000000003", "0000000000000002", "service-y", "some-operation"],
      // first CHILD_OF points into trace ff: skipped as Jaeger does; FOLLOWS_FROM is no parent
      ["0000000000000004", "0000000000000002", "service-y", "reference-test"],
      ["0000000000000005", "0000000000000004", "service-y", "preserveParentID-test"],
    ]);
  });

  it("reads status from the error tag and keeps typed tags, big int64 as text", async () => {
    const lookup = await fetchTrace({ baseUrl: BASE, traceId: TRACE_ID, fetch: fakeJaeger({ v1: ok(v1Trace) }).fetch });

    const [plain, tagged] = lookup.spans!;
    expect(plain!.status).toBe("unset");
    expect(tagged!.status).toBe("error");
    expect(tagged!.attributes).toEqual({
      "peer.service": "service-y",
      "peer.ipv4": 23456,
      temperature: 72.5,
      javascript_limit: "9223372036854775222",
      blob: "AAAwOQ==",
    });
    expect(lookup.spans!.every((s) => s.kind === null)).toBe(true);
  });

  it("a CHILD_OF only into another trace makes a root", async () => {
    const body = edit(v1Trace, (doc) => {
      doc.data[0].spans[3].references = doc.data[0].spans[3].references.filter(
        (r: any) => r.spanID !== "0000000000000002" || r.refType === "FOLLOWS_FROM",
      );
    });
    const lookup = await fetchTrace({ baseUrl: BASE, traceId: TRACE_ID, fetch: fakeJaeger({ v1: ok(body) }).fetch });

    expect(byOperation(lookup.spans, "reference-test").map((s) => s.parentSpanId)).toEqual([null]);
    expect(byOperation(lookup.spans, "preserveParentID-test").map((s) => s.parentSpanId)).toEqual(["0000000000000004"]);
  });

  it("reads span.kind and otel.status_code tags, and gives the same spans as v3 for the same trace", async () => {
    const v1 = await fetchTrace({ baseUrl: BASE, traceId: OTLP_TRACE_ID, fetch: fakeJaeger({ v1: ok(v1FromOtlp) }).fetch });
    const v3 = await fetchTrace({ baseUrl: BASE, traceId: OTLP_TRACE_ID, fetch: fakeJaeger({ v3: ok(v3FromOtlp) }).fetch });
    expect(v1.spans).toHaveLength(1);
    expect(v1.spans).toEqual(v3.spans);

    const withStatus = edit(v1FromOtlp, (doc) => {
      doc.data[0].spans[0].tags.push({ key: "otel.status_code", type: "string", value: "ERROR" });
      doc.data[0].spans[1].spanID = "00000000000000cc";
      doc.data[0].spans[1].tags = [
        { key: "span.kind", type: "string", value: "consumer" },
        { key: "otel.status_code", type: "string", value: "OK" },
      ];
    });
    const lookup = await fetchTrace({ baseUrl: BASE, traceId: OTLP_TRACE_ID, fetch: fakeJaeger({ v1: ok(withStatus) }).fetch });
    expect(lookup.spans?.map((s) => [s.kind, s.status])).toEqual([
      ["server", "error"],
      ["consumer", "ok"],
    ]);
  });
});

describe("fetchTrace when Jaeger cannot help", () => {
  it("a trace not exported yet: 404 from both versions → null spans and a retry hint", async () => {
    const jaeger = fakeJaeger({ v3: { status: 404, body: V3_NOT_FOUND }, v1: { status: 404, body: V1_NOT_FOUND } });
    const lookup = await fetchTrace({ baseUrl: `${BASE}/`, traceId: TRACE_ID, fetch: jaeger.fetch });

    expect(lookup).toEqual({
      traceId: TRACE_ID,
      jaegerUrl: `${BASE}/trace/${TRACE_ID}`,
      spans: null,
      warning: `Jaeger has no trace ${TRACE_ID} yet: spans are exported in batches, try again in a few seconds.`,
    });
  });

  it("something that is not Jaeger (HTML) → points at JAEGER_QUERY_URL", async () => {
    const html: Reply = { status: 200, body: "<!doctype html><title>app</title>", contentType: "text/html" };
    const lookup = await fetchTrace({ baseUrl: BASE, traceId: TRACE_ID, fetch: fakeJaeger({ v3: html, v1: html }).fetch });

    expect(lookup.spans).toBeNull();
    expect(lookup.warning).toMatch(/answered HTTP 200 with text\/html, not JSON; is JAEGER_QUERY_URL pointing at Jaeger/);
  });

  it("a 404 without Jaeger's error body is not taken for 'not exported yet'", async () => {
    const other: Reply = { status: 404, body: JSON.stringify({ type: "about:blank", title: "Not Found", status: 404 }) };
    const lookup = await fetchTrace({ baseUrl: BASE, traceId: TRACE_ID, fetch: fakeJaeger({ v3: other, v1: other }).fetch });

    expect(lookup.warning).toMatch(/answered HTTP 404; is JAEGER_QUERY_URL pointing at Jaeger/);
  });

  it("a server error is reported with Jaeger's message", async () => {
    const failing: Reply = { status: 500, body: JSON.stringify({ data: null, errors: [{ code: 500, msg: "storage unavailable" }] }) };
    const lookup = await fetchTrace({ baseUrl: BASE, traceId: TRACE_ID, fetch: fakeJaeger({ v3: failing, v1: failing }).fetch });

    expect(lookup.spans).toBeNull();
    expect(lookup.warning).toContain("answered HTTP 500 (storage unavailable)");
  });

  it("connection refused (as Node reports it) → one attempt, a warning, no throw", async () => {
    let calls = 0;
    const refused: typeof fetch = async () => {
      calls++;
      throw new TypeError("fetch failed", {
        cause: Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:16686"), { code: "ECONNREFUSED" }),
      });
    };
    const lookup = await fetchTrace({ baseUrl: BASE, traceId: TRACE_ID, fetch: refused });

    expect(calls).toBe(1);
    expect(lookup.spans).toBeNull();
    expect(lookup.warning).toBe(
      `Jaeger at ${BASE} did not answer (connection refused); is it running? Set JAEGER_QUERY_URL to its query address.`,
    );
  });

  it("connection refused as Deno reports it", async () => {
    const refused: typeof fetch = async () => {
      throw new TypeError(
        "error sending request for url (http://127.0.0.1:16686/api/v3/traces/1): client error (Connect): tcp connect error: Connection refused (os error 111)",
      );
    };
    const lookup = await fetchTrace({ baseUrl: BASE, traceId: TRACE_ID, fetch: refused });

    expect(lookup.warning).toContain("did not answer (connection refused)");
  });

  it("rejects a malformed trace id or base URL without asking Jaeger", async () => {
    const jaeger = fakeJaeger({ v3: ok(v3Snapshot) });
    const badId = await fetchTrace({ baseUrl: BASE, traceId: "../../api/services", fetch: jaeger.fetch });
    const badUrl = await fetchTrace({ baseUrl: "localhost:16686", traceId: TRACE_ID, fetch: jaeger.fetch });

    expect(jaeger.asked).toEqual([]);
    expect([badId.spans, badUrl.spans]).toEqual([null, null]);
    expect(badId.warning).toContain("is not a trace id (expected 32 hex digits)");
    expect(badUrl.warning).toContain(`JAEGER_QUERY_URL "localhost:16686" is not an http(s) URL`);
  });
});

describe("fetchTrace over a real HTTP connection", () => {
  const servers: Server[] = [];
  afterEach(async () => {
    for (const server of servers.splice(0)) {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
  const listen = async (handler: RequestListener): Promise<string> => {
    const server = createServer(handler);
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  };

  it("serves v3 404 then v1 from a node:http server", async () => {
    const paths: string[] = [];
    const base = await listen((req, res) => {
      paths.push(req.url ?? "");
      const v1 = req.url === `/api/traces/${TRACE_ID}`;
      res.writeHead(v1 ? 200 : 404, { "content-type": v1 ? "application/json" : "text/plain; charset=utf-8" });
      res.end(v1 ? v1Trace : `${V3_NOT_FOUND}\n`);
    });
    const lookup = await fetchTrace({ baseUrl: base, traceId: TRACE_ID });

    expect(paths).toEqual([`/api/v3/traces/${TRACE_ID}`, `/api/traces/${TRACE_ID}`]);
    expect(lookup.jaegerUrl).toBe(`${base}/trace/${TRACE_ID}`);
    expect(lookup.spans?.map((s) => s.operation)).toEqual([
      "test-general-conversion",
      "some-operation",
      "some-operation",
      "reference-test",
      "preserveParentID-test",
    ]);
  });

  it("a closed loopback port → connection refused warning", async () => {
    const base = await listen(() => {});
    const server = servers.pop()!;
    await new Promise((resolve) => server.close(resolve));

    const lookup = await fetchTrace({ baseUrl: base, traceId: TRACE_ID });

    expect(lookup.spans).toBeNull();
    expect(lookup.warning).toBe(
      `Jaeger at ${base} did not answer (connection refused); is it running? Set JAEGER_QUERY_URL to its query address.`,
    );
    expect(lookup.jaegerUrl).toBe(`${base}/trace/${TRACE_ID}`);
  });

  it("a server that never answers → timeout warning within the budget", async () => {
    const base = await listen(() => {
      /* hold the request open */
    });
    const started = Date.now();
    const lookup = await fetchTrace({ baseUrl: base, traceId: TRACE_ID, timeoutMs: 200 });

    expect(Date.now() - started).toBeLessThan(2000);
    expect(lookup.spans).toBeNull();
    expect(lookup.warning).toBe(
      `Jaeger at ${base} did not answer within 200 ms; is it running? Set JAEGER_QUERY_URL to its query address.`,
    );
  });
});

describe("jaegerTraceUrl", () => {
  it("joins base (with or without a trailing slash or base path) and trace id", () => {
    expect(jaegerTraceUrl("http://127.0.0.1:16686/", TRACE_ID)).toBe(`http://127.0.0.1:16686/trace/${TRACE_ID}`);
    expect(jaegerTraceUrl("https://ops.example/jaeger", "abc")).toBe("https://ops.example/jaeger/trace/abc");
  });
});
