// The log shipper against a scripted fetch: batching, the bound on what it holds, retries, refusals,
// and closing — never blocking or throwing into the logger whatever the store does.
import { describe, expect, it } from "vitest";
import { createLogShipper, fetchPost, jsonLineInsertUrl, type LogShipperOptions } from "./log-shipper.ts";

type Reply = "ok" | "down" | number;

/** A fetch that answers each request as `script` says (its last entry repeating), recording them. */
function scriptedFetch(script: Reply[]) {
  const requests: { url: string; body: string; contentType: string | null }[] = [];
  let next = 0;
  const fetchImpl = (async (input: RequestInfo | URL, init?: RequestInit) => {
    const reply = script[Math.min(next++, script.length - 1)]!;
    requests.push({ url: String(input), body: String(init?.body ?? ""), contentType: new Headers(init?.headers).get("content-type") });
    if (reply === "down")
      throw new TypeError("fetch failed", {
        cause: Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:9"), { code: "ECONNREFUSED" }),
      });
    const status = reply === "ok" ? 200 : reply;
    return new Response(status === 200 ? "" : "cannot parse the line", { status });
  }) as typeof fetch;
  return { fetchImpl, requests, lines: () => requests.flatMap((r) => r.body.split("\n").filter(Boolean)) };
}

const line = (i: number) =>
  `{"level":"info","time":"2026-12-04T10:00:00.${String(i % 1000).padStart(3, "0")}Z","service":"payment-service","msg":"line ${i}"}\n`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(condition: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

function shipper(script: Reply[], options: Partial<LogShipperOptions> = {}) {
  const f = scriptedFetch(script);
  const changes: string[] = [];
  const s = createLogShipper({
    url: "http://logs.local:9428/",
    extraFields: { instance: "i-1" },
    flushIntervalMs: 20,
    maxRetryDelayMs: 40,
    post: fetchPost(f.fetchImpl),
    onStateChange: (c) => changes.push(c.state === "failing" ? `failing: ${c.reason}` : `recovered, ${c.dropped} dropped`),
    ...options,
  });
  return { s, f, changes };
}

describe("createLogShipper", () => {
  it("posts pino's lines as JSON lines to /insert/jsonline, naming message, time and stream fields", async () => {
    const { s, f } = shipper(["ok"]);
    for (let i = 0; i < 3; i++) s.write(line(i));
    await until(() => s.stats().shipped === 3, "3 lines shipped");
    expect(f.requests).toHaveLength(1);
    const url = new URL(f.requests[0]!.url);
    expect(`${url.origin}${url.pathname}`).toBe("http://logs.local:9428/insert/jsonline");
    expect(Object.fromEntries(url.searchParams)).toEqual({
      _msg_field: "msg",
      _time_field: "time",
      _stream_fields: "service,instance",
      extra_fields: "instance=i-1",
    });
    expect(f.requests[0]!.contentType).toBe("application/stream+json");
    expect(f.requests[0]!.body).toBe(line(0) + line(1) + line(2));
    expect(s.stats()).toEqual({ shipped: 3, dropped: { bufferFull: 0, rejected: 0 }, buffered: 0, failedRequests: 0 });
  });

  it("sends once a batch's worth waits, each request carrying all that waits, one at a time; fewer wait for the interval", async () => {
    const { s, f } = shipper(["ok"], { batchLines: 4, flushIntervalMs: 60_000 });
    for (let i = 0; i < 9; i++) s.write(line(i));
    // The 4th line sends 4; lines 5-9 wait behind that request and then leave together.
    await until(() => s.stats().shipped === 9, "all nine lines");
    expect(f.requests.map((r) => r.body.split("\n").filter(Boolean).length)).toEqual([4, 5]);
    for (let i = 9; i < 12; i++) s.write(line(i));
    await sleep(50);
    expect(s.stats().buffered).toBe(3); // fewer than a batch: they wait for the interval, or a flush
    await s.flush();
    expect(f.lines()).toEqual(Array.from({ length: 12 }, (_, i) => line(i).trimEnd()));
  });

  it("keeps shipping after a flush with nothing to send (a timer firing on an empty buffer)", async () => {
    const { s, f } = shipper(["ok"], { batchLines: 2 });
    await s.flush(); // nothing waiting
    await s.flush();
    for (let i = 0; i < 5; i++) s.write(line(i));
    await until(() => s.stats().shipped === 5, "the lines written after the empty flushes");
    expect(f.lines()).toHaveLength(5);
  });

  it("while the store is down: writes return at once, at most the bound is held, the rest is dropped and counted; all resumes when it is back", async () => {
    const replies: Reply[] = Array.from({ length: 6 }, () => "down" as const);
    const { s, f, changes } = shipper([...replies, "ok"], { maxBufferedLines: 50, batchLines: 20 });
    const started = performance.now();
    for (let i = 0; i < 1_000; i++) s.write(line(i));
    expect(performance.now() - started).toBeLessThan(1_000); // never waits for the network
    expect(s.stats().buffered).toBe(50);
    expect(s.stats().dropped.bufferFull).toBe(950);
    await until(() => s.stats().shipped === 50, "the held lines shipped once the store answers");
    expect(s.stats().failedRequests).toBe(6);
    // Kept: the first 50 lines, in order (new lines are the ones dropped).
    expect(f.lines().slice(-50)).toEqual(Array.from({ length: 50 }, (_, i) => line(i).trimEnd()));
    expect(changes).toEqual([
      "failing: log shipping to http://logs.local:9428/ failed (connection refused); buffering up to 50 lines, dropping beyond",
      "recovered, 950 dropped",
    ]);
  });

  it("retries a batch the store answers 5xx or 429, and drops (counting) a batch it refuses as malformed", async () => {
    const { s, f } = shipper([503, 429, "ok", 400, "ok"], { batchLines: 2, flushIntervalMs: 60_000 });
    s.write(line(1));
    s.write(line(2));
    await until(() => s.stats().shipped === 2, "the batch, after two retries");
    expect(f.requests.map((r) => r.body)).toEqual([line(1) + line(2), line(1) + line(2), line(1) + line(2)]);
    s.write(line(3));
    s.write(line(4));
    await until(() => s.stats().dropped.rejected === 2, "the refused batch dropped");
    s.write(line(5));
    s.write(line(6));
    await until(() => s.stats().shipped === 4, "later lines shipped again");
    expect(s.stats().failedRequests).toBe(2);
  });

  it("bounds what it holds by size too", async () => {
    const { s } = shipper(["down"], { maxBufferedChars: 1_000, maxBufferedLines: 1_000 });
    const big = `${JSON.stringify({ msg: "x".repeat(400) })}\n`;
    for (let i = 0; i < 10; i++) s.write(big);
    expect(s.stats().buffered).toBe(2);
    expect(s.stats().dropped.bufferFull).toBe(8);
    await s.close(50);
  });

  it("close() sends what is held, then ignores later lines; with the store down it gives up within its timeout and counts the loss", async () => {
    const up = shipper(["ok"], { flushIntervalMs: 60_000 });
    up.s.write(line(1));
    await up.s.close();
    expect(up.s.stats().shipped).toBe(1);
    up.s.write(line(2));
    await sleep(30);
    expect(up.f.requests).toHaveLength(1);

    const down = shipper(["down"], { flushIntervalMs: 60_000 });
    for (let i = 0; i < 5; i++) down.s.write(line(i));
    const started = Date.now();
    await down.s.close(300);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(down.s.stats()).toMatchObject({ shipped: 0, buffered: 0, dropped: { bufferFull: 5 } });
  });
});

describe("jsonLineInsertUrl", () => {
  it("escapes the extra fields' values and trims the base URL", () => {
    const url = new URL(jsonLineInsertUrl("http://v:9428//", ["service"], { instance: "a b&c" }));
    expect(url.pathname).toBe("/insert/jsonline");
    expect(url.searchParams.get("extra_fields")).toBe("instance=a b&c");
    expect(url.searchParams.get("_stream_fields")).toBe("service");
  });
});
