// The order-logs lookup against VictoriaLogs' recorded answer (test/fixtures/victoria-logs) and the
// ways it can fail: every failure is lines: null with a warning, never a throw.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { fetchOrderLogs, orderLogsQuery } from "./log-query.ts";

const RECORDED = readFileSync(new URL("../test/fixtures/victoria-logs/order_logs_query.jsonl", import.meta.url), "utf8");
const ORDER_ID = "caeade7c-6b08-4be3-b5db-37874639fd84";
const BASE = "http://logs.local:9428";

function answering(status: number, body: string, seen: { url?: string; body?: string } = {}): typeof fetch {
  return (async (input: RequestInfo | URL, init?: RequestInit) => {
    seen.url = String(input);
    seen.body = String(init?.body ?? "");
    return new Response(body, { status, headers: { "content-type": "application/stream+json" } });
  }) as typeof fetch;
}

const failing = (error: unknown): typeof fetch =>
  (async () => {
    throw error;
  }) as typeof fetch;

describe("orderLogsQuery", () => {
  it("asks for the order's exact id, oldest first, with a limit", () => {
    expect(orderLogsQuery(ORDER_ID)).toBe(`orderId:="${ORDER_ID}" | sort by (_time) | limit 1000`);
    expect(orderLogsQuery(`x" or *`, 5)).toBe(`orderId:="x\\" or *" | sort by (_time) | limit 5`);
  });
});

describe("fetchOrderLogs", () => {
  it("reads VictoriaLogs' JSON lines into lines in time order, every field kept", async () => {
    const seen: { url?: string; body?: string } = {};
    // Reversed on purpose: the client sorts too.
    const reversed = RECORDED.trim().split("\n").reverse().join("\n");
    const lookup = await fetchOrderLogs({ baseUrl: `${BASE}/`, orderId: ORDER_ID, fetch: answering(200, reversed, seen) });
    expect(seen.url).toBe(`${BASE}/select/logsql/query`);
    expect(new URLSearchParams(seen.body).get("query")).toBe(orderLogsQuery(ORDER_ID));
    expect(lookup.warning).toBeUndefined();
    expect(lookup.uiUrl).toBe(`${BASE}/select/vmui/`);
    const lines = lookup.lines!;
    expect(lines).toHaveLength(7);
    expect(lines.map((l) => l.service)).toEqual([
      "order-service",
      "payment-service",
      "shipping-service",
      "shipping-service",
      "notification-service",
      "notification-service",
      "notification-service",
    ]);
    expect(lines[0]).toMatchObject({ msg: "order accepted", level: "info", time: "2026-12-04T07:34:10.563Z" });
    expect(lines[0]!.fields).toMatchObject({
      orderId: ORDER_ID,
      eventType: "ORDER_CREATED",
      seq: "1",
      trace_id: "f2e028ff856f857a04299ae7d34deea4",
    });
    expect(Object.keys(lines[0]!.fields)).not.toContain("_stream");
    // `…10.58Z` sorts between `…10.572Z` and `…10.584Z`, not as text.
    expect(lines[2]!.time).toBe("2026-12-04T07:34:10.58Z");
    expect(lines.map((l) => Date.parse(l.time))).toEqual(lines.map((l) => Date.parse(l.time)).sort((a, b) => a - b));
  });

  it("finds no lines in an empty answer", async () => {
    const lookup = await fetchOrderLogs({ baseUrl: BASE, orderId: ORDER_ID, fetch: answering(200, "") });
    expect(lookup.lines).toEqual([]);
    expect(lookup.warning).toBeUndefined();
  });

  it("says so when VictoriaLogs does not answer: refused, timed out", async () => {
    const refused = await fetchOrderLogs({
      baseUrl: BASE,
      orderId: ORDER_ID,
      fetch: failing(new TypeError("fetch failed", { cause: Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" }) })),
    });
    expect(refused.lines).toBeNull();
    expect(refused.warning).toBe(
      `VictoriaLogs at ${BASE} did not answer (connection refused); is it running? Set VICTORIA_LOGS_QUERY_URL (or VICTORIA_LOGS_URL) to its address.`,
    );
    const slow = await fetchOrderLogs({
      baseUrl: BASE,
      orderId: ORDER_ID,
      timeoutMs: 250,
      fetch: failing(new DOMException("The operation timed out.", "TimeoutError")),
    });
    expect(slow.warning).toContain("did not answer within 250 ms");
  });

  it("says so when something else answers: an HTTP error, or not JSON lines", async () => {
    const refused = await fetchOrderLogs({
      baseUrl: BASE,
      orderId: ORDER_ID,
      fetch: answering(400, 'cannot parse `query` arg [orderId:="]:\n token'),
    });
    expect(refused.lines).toBeNull();
    expect(refused.warning).toBe(
      `VictoriaLogs at ${BASE} answered HTTP 400 (cannot parse \`query\` arg [orderId:="]: token); is that VictoriaLogs' HTTP port (9428 by default)?`,
    );
    const html = await fetchOrderLogs({
      baseUrl: BASE,
      orderId: ORDER_ID,
      fetch: answering(200, "<!doctype html><title>Jaeger UI</title>"),
    });
    expect(html.lines).toBeNull();
    expect(html.warning).toContain("not JSON lines");
  });

  it("does not ask when the base URL is not http(s)", async () => {
    const lookup = await fetchOrderLogs({
      baseUrl: "javascript:alert(1)",
      orderId: ORDER_ID,
      fetch: failing(new Error("must not be called")),
    });
    expect(lookup.lines).toBeNull();
    expect(lookup.warning).toMatch(/is not an http\(s\) URL/);
  });
});
