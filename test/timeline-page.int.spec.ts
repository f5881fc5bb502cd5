/**
 * The order timeline page (`GET /orders/{id}/view`) opened in a real browser: Debian's
 * headless Chromium driven by playwright-core. The services export their spans to an OTLP receiver,
 * and a stand-in for Jaeger's query service serves them back as Jaeger's v3 API does, so the
 * waterfall is drawn from the order's real trace. The screenshot is checked pixel by pixel: each
 * event row shows its publishing service's colour.
 */
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../scripts/nats-binary.ts";
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from "./support/otlp-receiver.ts";
import { getJson, postOrder, startSystem, waitForStatus, type System } from "./support/system.ts";
import { spanCount } from "./support/trace-shape.ts";

const CHROMIUM = "/usr/bin/chromium";
const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
const SERVICES = ["order-service", "payment-service", "shipping-service", "notification-service"];
const CHAIN = ["ORDER_CREATED", "PAYMENT_COMPLETED", "SHIPPING_READY"];
/** The badge colours of inspection/timeline-page.ts, by publishing service. */
const BADGE_RGB: Record<string, [number, number, number]> = {
  order: [0x2b, 0x6c, 0xb0],
  payment: [0x2f, 0x85, 0x5a],
  shipping: [0xb7, 0x79, 0x1f],
};
const PUBLISHER: Record<string, string> = { ORDER_CREATED: "order", PAYMENT_COMPLETED: "payment", SHIPPING_READY: "shipping" };
/** Printable ASCII without spaces, so the API accepts it; the page must show it as text. */
const HOSTILE_SKU = "<script>alert(1)</script>";
const TOKEN = "timeline-secret";

// ---------------------------------------------------------------------------------------------
// Jaeger stand-in: GET /api/v3/traces/<id> → the receiver's spans as OTLP JSON (Jaeger v3's shape)

interface FakeJaeger {
  url: string;
  requests: string[];
  close(): Promise<void>;
}

function otlpValue(value: unknown) {
  if (typeof value === "boolean") return { boolValue: value };
  if (typeof value === "number") return Number.isInteger(value) ? { intValue: String(value) } : { doubleValue: value };
  return { stringValue: typeof value === "string" ? value : JSON.stringify(value) };
}

/** Spans as Jaeger v3 returns them: one resourceSpans per service, ids in hex, times as nanosecond strings. */
function toJaegerV3(spans: ReceivedSpan[]) {
  const byService = new Map<string, ReceivedSpan[]>();
  for (const s of spans) byService.set(s.serviceName, [...(byService.get(s.serviceName) ?? []), s]);
  return {
    result: {
      resourceSpans: [...byService].map(([service, list]) => ({
        resource: { attributes: [{ key: "service.name", value: { stringValue: service } }] },
        scopeSpans: [
          {
            scope: { name: "orderstream" },
            spans: list.map((s) => ({
              traceId: s.traceId,
              spanId: s.spanId,
              ...(s.parentSpanId ? { parentSpanId: s.parentSpanId } : {}),
              name: s.name,
              kind: s.kind,
              startTimeUnixNano: s.startTimeUnixNano,
              endTimeUnixNano: s.endTimeUnixNano,
              attributes: Object.entries(s.attributes).map(([key, value]) => ({ key, value: otlpValue(value) })),
              status: s.status,
            })),
          },
        ],
      })),
    },
  };
}

async function startFakeJaeger(receiver: OtlpReceiver): Promise<FakeJaeger> {
  const requests: string[] = [];
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0]!;
    requests.push(path);
    const match = /^\/api\/v3\/traces\/([0-9a-f]{32})$/.exec(path);
    const spans = match ? receiver.spans().filter((s) => s.traceId === match[1]) : [];
    const [status, body] = spans.length > 0 ? [200, toJaegerV3(spans)] : [404, { error: { code: 404, message: "trace not found" } }];
    res.writeHead(status, { "content-type": "application/json" });
    res.end(JSON.stringify(body));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

// ---------------------------------------------------------------------------------------------
// PNG checks

/** Width and height from the IHDR chunk, after checking the signature. */
function pngSize(png: Buffer): { width: number; height: number } {
  expect(png.subarray(0, 8).toString("hex"), "PNG signature").toBe("89504e470d0a1a0a");
  expect(png.subarray(12, 16).toString("ascii"), "first chunk").toBe("IHDR");
  return { width: png.readUInt32BE(16), height: png.readUInt32BE(20) };
}

interface BandStats {
  /** Pixels within a small distance of each badge colour. */
  badge: Record<string, number>;
  /** Dark pixels: text. */
  dark: number;
  distinctColors: number;
}

/**
 * Decodes the PNG in the browser (a blank page, so the timeline's CSP does not apply) and counts,
 * for each horizontal band [y0, y1), the pixels of each badge colour and of dark text.
 */
async function bandStats(page: Page, png: Buffer, bands: [number, number][]): Promise<BandStats[]> {
  return page.evaluate(
    async ({ dataUrl, bands, badges }) => {
      const img = new Image();
      img.src = dataUrl;
      await img.decode();
      const canvas = document.createElement("canvas");
      canvas.width = img.naturalWidth;
      canvas.height = img.naturalHeight;
      const ctx = canvas.getContext("2d")!;
      ctx.drawImage(img, 0, 0);
      const { data } = ctx.getImageData(0, 0, canvas.width, canvas.height);
      return bands.map(([y0, y1]) => {
        const badge: Record<string, number> = Object.fromEntries(Object.keys(badges).map((k) => [k, 0]));
        const colors = new Set<number>();
        let dark = 0;
        for (let y = Math.max(0, Math.floor(y0)); y < Math.min(canvas.height, Math.ceil(y1)); y++) {
          for (let x = 0; x < canvas.width; x++) {
            const i = (y * canvas.width + x) * 4;
            const [r, g, b] = [data[i]!, data[i + 1]!, data[i + 2]!];
            colors.add((r << 16) | (g << 8) | b);
            if (r + g + b < 200) dark++;
            for (const [name, [br, bg, bb]] of Object.entries(badges)) {
              if (Math.abs(r - br) <= 10 && Math.abs(g - bg) <= 10 && Math.abs(b - bb) <= 10) badge[name]!++;
            }
          }
        }
        return { badge, dark, distinctColors: colors.size };
      });
    },
    { dataUrl: `data:image/png;base64,${png.toString("base64")}`, bands, badges: BADGE_RGB },
  );
}

// ---------------------------------------------------------------------------------------------

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("order timeline page in headless Chromium", () => {
  let receiver: OtlpReceiver;
  let jaeger: FakeJaeger;
  let sys: System;
  let browser: Browser;
  let shots: string;
  const keepShots = process.env.TIMELINE_SCREENSHOT_DIR;

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(
        `${CHROMIUM} is missing: install Debian's chromium first (as root: apt-get update && apt-get install -y chromium; .ci/run does it).`,
      );
    }
    shots = keepShots ?? (await mkdtemp(join(tmpdir(), "timeline-shots-")));
    await mkdir(shots, { recursive: true });
    receiver = await startOtlpReceiver();
    jaeger = await startFakeJaeger(receiver);
    sys = await startSystem({
      env: {
        OTEL_TRACES_EXPORTER: "otlp",
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
        OTEL_BSP_SCHEDULE_DELAY: "200",
        JAEGER_QUERY_URL: jaeger.url,
      },
    });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, timeout: 60_000 });
  });

  afterAll(async () => {
    await browser?.close();
    await sys?.stop();
    await jaeger?.close();
    await receiver?.close();
    if (shots && !keepShots) await rm(shots, { recursive: true, force: true });
  });

  it("shows the events in stream order, the status, and the real trace as a waterfall with the Jaeger link", async () => {
    const posted = await postOrder(sys.orderUrl, {
      userId: "timeline-user",
      amount: 42.5,
      currency: "EUR",
      items: [
        { sku: "BOOK-1", quantity: 2, unitPrice: 10 },
        { sku: HOSTILE_SKU, quantity: 1, unitPrice: 22.5 },
      ],
    });
    expect(posted.status, JSON.stringify(posted.body)).toBe(201);
    const { orderId, traceId } = posted.body as { orderId: string; traceId: string };
    expect(traceId).toMatch(/^[0-9a-f]{32}$/);
    await waitForStatus(sys.orderUrl, orderId, ["SHIPPING_READY"], 30_000);
    // The trace is complete once it holds all its spans (the notification of SHIPPING_READY is the
    // last of them); then let late batches land.
    await receiver.waitFor((all) => all.filter((s) => s.traceId === traceId).length >= spanCount(CHAIN), 30_000);
    await sleep(1_000);
    const traceSpans = receiver.spans().filter((s) => s.traceId === traceId);
    const events = (await getJson(`${sys.orderUrl}/orders/${orderId}/events`)).body as { seq: number; eventType: string }[];
    expect(events.map((e) => e.eventType)).toEqual(CHAIN);

    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    try {
      const response = await page.goto(`${sys.orderUrl}/orders/${orderId}/view`, { waitUntil: "load", timeout: 30_000 });
      expect(response?.status()).toBe(200);
      expect(response?.headers()["content-type"]).toBe("text/html; charset=utf-8");
      expect(await page.title()).toBe(`Order ${orderId} · timeline`);

      // Events: three rows in stream order, each with its sequence, type and publishing service.
      const rows = page.locator("table.events tbody tr");
      await expect.poll(() => rows.count()).toBe(3);
      const cells = await rows.evaluateAll((trs) =>
        trs.map((tr) => Array.from(tr.querySelectorAll("td"), (td) => td.textContent?.trim() ?? "")),
      );
      expect(cells.map((c) => [c[1], c[4], c[5]])).toEqual(events.map((e) => [String(e.seq), e.eventType, PUBLISHER[e.eventType]]));
      expect(cells.every((c) => /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/.test(c[2]!))).toBe(true);
      const tableText = (await page.locator("table.events").innerText()).replace(/\s+/g, " ");
      const at = CHAIN.map((type) => tableText.indexOf(type));
      expect(at.every((i) => i >= 0) && at[0]! < at[1]! && at[1]! < at[2]!, `event types in order in: ${tableText}`).toBe(true);
      const text = await page.locator("body").innerText();
      expect(await page.locator("[data-status]").textContent()).toBe("SHIPPING_READY");

      // The hostile SKU is text, not markup: no element came out of it.
      expect(text).toContain(HOSTILE_SKU);
      expect(await page.locator("script").count()).toBe(0);

      // Trace: the waterfall has a bar per span the stand-in served, the root first, and the Jaeger link.
      expect(jaeger.requests).toContain(`/api/v3/traces/${traceId}`);
      const spanRows = page.locator("#waterfall [data-span-id]");
      expect(await spanRows.count()).toBe(traceSpans.length);
      expect(await spanRows.evaluateAll((els) => els.map((e) => e.getAttribute("data-span-id")))).toEqual(
        expect.arrayContaining(traceSpans.map((s) => s.spanId)),
      );
      const root = traceSpans.find((s) => s.parentSpanId === null)!;
      expect(root.name).toBe("POST /orders");
      expect(await spanRows.first().getAttribute("data-span-id")).toBe(root.spanId);
      const waterfallText = await page.locator("#waterfall").innerText();
      for (const service of SERVICES) expect(waterfallText).toContain(service);
      // Messaging spans are labelled by operation and event type (inspection/trace-span.ts spanLabel).
      expect(waterfallText).toContain("publish SHIPPING_READY");
      const lane = await page.locator(`#waterfall [data-span-id="${root.spanId}"] .lane`).boundingBox();
      const rootBar = await page.locator(`#waterfall [data-span-id="${root.spanId}"] .bar`).boundingBox();
      expect(lane && rootBar).toBeTruthy();
      expect(Math.abs(rootBar!.x - lane!.x)).toBeLessThan(2); // the root starts the trace
      const bars = await page.locator("#waterfall .bar").evaluateAll((els) => els.map((e) => e.getBoundingClientRect().width));
      expect(bars.every((w) => w >= 1)).toBe(true);
      expect(await page.locator(".warning").count()).toBe(0);
      const link = page.locator("a.jaeger-link");
      expect(await link.getAttribute("href")).toBe(`${jaeger.url}/trace/${traceId}`);
      expect(await link.innerText()).toContain(traceId);

      // Screenshots: the whole page, and the events table checked row by row for its service colour.
      const full = await page.screenshot({ path: join(shots, "timeline.png"), fullPage: true });
      const fullSize = pngSize(full);
      expect(fullSize.width).toBe(1280);
      expect(fullSize.height).toBeGreaterThanOrEqual(900);
      expect(full.length).toBeGreaterThan(20_000);
      expect((await readFile(join(shots, "timeline.png"))).equals(full)).toBe(true);

      const table = page.locator("table.events");
      const tablePng = await table.screenshot({ path: join(shots, "events-table.png") });
      const tableBox = (await table.boundingBox())!;
      const size = pngSize(tablePng);
      expect(Math.abs(size.height - tableBox.height)).toBeLessThanOrEqual(2);
      const rowBoxes = await rows.evaluateAll((trs) =>
        trs.map((tr) => {
          const { top, bottom, height } = tr.getBoundingClientRect();
          return { top, bottom, height };
        }),
      );
      expect(rowBoxes.every((b) => b.height >= 12)).toBe(true);
      expect(tableBox.height).toBeGreaterThanOrEqual(rowBoxes.reduce((sum, b) => sum + b.height, 0));

      const blank = await browser.newPage();
      try {
        const tableTop = await table.evaluate((el) => el.getBoundingClientRect().top);
        const stats = await bandStats(
          blank,
          tablePng,
          rowBoxes.map((b) => [b.top - tableTop, b.bottom - tableTop]),
        );
        stats.forEach((band, i) => {
          const publisher = PUBLISHER[events[i]!.eventType]!;
          const others = Object.keys(BADGE_RGB).filter((k) => k !== publisher);
          const what = `row ${i + 1} (${events[i]!.eventType}): ${JSON.stringify(band)}`;
          expect(band.badge[publisher], what).toBeGreaterThan(50); // the service badge is painted
          for (const other of others) expect(band.badge[other], what).toBeLessThan(band.badge[publisher]! / 4);
          expect(band.dark, what).toBeGreaterThan(200); // the row has text
          expect(band.distinctColors, what).toBeGreaterThan(8);
        });
      } finally {
        await blank.close();
      }
    } finally {
      await page.close();
    }
  });

  it("still renders the events, a warning and the Jaeger link when Jaeger does not answer; behind the token", async () => {
    const deadPort = await freePort(); // nothing listens there once freePort has closed it
    const orderB = await sys.add("order", { JAEGER_QUERY_URL: `http://127.0.0.1:${deadPort}`, ORDER_API_TOKEN: TOKEN });
    const posted = await postOrder(orderB.baseUrl, { userId: "timeline-down", amount: 5 }, { authorization: `Bearer ${TOKEN}` });
    expect(posted.status, JSON.stringify(posted.body)).toBe(201);
    const { orderId, traceId } = posted.body as { orderId: string; traceId: string };
    await waitForStatus(sys.orderUrl, orderId, ["SHIPPING_READY"], 30_000);

    const unauthorized = await fetch(`${orderB.baseUrl}/orders/${orderId}/view`);
    expect(unauthorized.status).toBe(401);
    await unauthorized.body?.cancel();
    const unknown = await fetch(`${orderB.baseUrl}/orders/${crypto.randomUUID()}/view`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(unknown.status).toBe(404);
    expect(unknown.headers.get("content-type")).toMatch(/^application\/problem\+json/);
    expect(((await unknown.json()) as { status: number }).status).toBe(404);

    const context = await browser.newContext({ extraHTTPHeaders: { authorization: `Bearer ${TOKEN}` } });
    try {
      const page = await context.newPage();
      const response = await page.goto(`${orderB.baseUrl}/orders/${orderId}/view`, { waitUntil: "load", timeout: 30_000 });
      expect(response?.status()).toBe(200);
      const types = await page.locator("table.events tbody tr").evaluateAll((trs) => trs.map((tr) => tr.getAttribute("data-event-type")));
      expect(types).toEqual(CHAIN);
      const warning = await page.locator(".warning").innerText();
      expect(warning).toMatch(/^No waterfall: Jaeger at http:\/\/127\.0\.0\.1:\d+ did not answer/);
      expect(await page.locator("#waterfall").count()).toBe(0);
      expect(await page.locator("a.jaeger-link").getAttribute("href")).toBe(`http://127.0.0.1:${deadPort}/trace/${traceId}`);
      pngSize(await page.screenshot({ path: join(shots, "timeline-jaeger-down.png"), fullPage: true }));
    } finally {
      await context.close();
    }
  });
});
