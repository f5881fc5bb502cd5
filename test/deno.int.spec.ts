/**
 * The services on Deno 2: a nats-server, the four services started with
 * `deno run -A services/<name>/main.deno.ts` (the `deno` npm dev dependency's binary), tracing to an
 * OTLP/HTTP receiver on loopback. Orders complete and each is one trace over all four services;
 * then a Node instance of payment joins, the Deno one drains away, and orders still complete with
 * one trace each across both runtimes.
 *
 * Deno runs with a fresh DENO_DIR, `--cached-only` and unreachable npm/JSR registries: everything
 * comes from node_modules, so this also proves a fresh clone runs offline after `npm ci`.
 */
import { accessSync, constants, existsSync, readdirSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startNatsServer, type NatsServerHandle } from "./support/nats-server.ts";
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from "./support/otlp-receiver.ts";
import { REPO_ROOT, startService, waitUntil, type ServiceName, type ServiceProcess } from "./support/processes.ts";
import { eventTypes, getJson, postOrder, waitForStatus } from "./support/system.ts";
import { processedBy, processSpanName, publishSpanName, spanCount } from "./support/trace-shape.ts";

const SERVER = 2;
const PRODUCER = 4;
const CONSUMER = 5;
const STATUS_ERROR = 2;
const SERVICES: ServiceName[] = ["order", "payment", "shipping", "notification"];
const SERVICE_LABELS = SERVICES.map((s) => `${s}-service`);
const DENO = join(REPO_ROOT, "node_modules", ".bin", "deno");
/** Deno's first start transpiles into the empty DENO_DIR; generous for a busy 2-core box. */
const READY_TIMEOUT_MS = 60_000;
/** Longer than a few OTEL_BSP_SCHEDULE_DELAYs: a late or duplicate span would have arrived by then. */
const SETTLE_MS = 1_000;
const HAPPY = ["ORDER_CREATED", "PAYMENT_COMPLETED", "SHIPPING_READY"];
const DECLINED = ["ORDER_CREATED", "PAYMENT_FAILED", "ORDER_CANCELLED"];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The Deno binary from the `deno` dev dependency, or an error saying how to get it. */
function denoBinary(): string {
  try {
    accessSync(DENO, constants.X_OK);
    return DENO;
  } catch {
    throw new Error(
      `Deno binary not found at ${DENO}: run \`npm ci\` (the \`deno\` dev dependency provides it; nothing is downloaded at run time).`,
    );
  }
}

function describeSpans(spans: ReceivedSpan[]): string {
  return spans
    .map((s) => `${s.serviceName} k=${s.kind} "${s.name}" span=${s.spanId} parent=${s.parentSpanId ?? "-"} status=${s.status.code}`)
    .join("\n");
}

describe("the four services on Deno 2", () => {
  let nats: NatsServerHandle;
  let receiver: OtlpReceiver;
  let denoDir: string;
  let env: Record<string, string>;
  const deno: Partial<Record<ServiceName, ServiceProcess>> = {};
  const others: ServiceProcess[] = [];

  const startOnDeno = (name: ServiceName) =>
    startService(name, env, {
      command: [denoBinary(), "run", "--cached-only", "-A", `services/${name}/main.deno.ts`],
      readyTimeoutMs: READY_TIMEOUT_MS,
    });
  const orderUrl = () => deno.order!.baseUrl;

  beforeAll(
    async () => {
      denoBinary(); // fail first, with the hint, when the binary is missing
      receiver = await startOtlpReceiver();
      nats = await startNatsServer();
      denoDir = await mkdtemp(join(tmpdir(), "orderstream-deno-dir-"));
      env = {
        NATS_URL: nats.url,
        OTEL_TRACES_EXPORTER: "otlp",
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
        OTEL_BSP_SCHEDULE_DELAY: "200",
        DENO_DIR: denoDir,
        DENO_NO_UPDATE_CHECK: "1",
        // Anything Deno tried to fetch would fail here instead of quietly downloading.
        NPM_CONFIG_REGISTRY: "http://127.0.0.1:9/",
        JSR_URL: "http://127.0.0.1:9/",
      };
      // One after the other: the first creates the streams, the rest bind to them.
      for (const name of SERVICES) deno[name] = await startOnDeno(name);
    },
    4 * READY_TIMEOUT_MS + 30_000,
  );

  afterAll(async () => {
    const all = [...Object.values(deno), ...others];
    await Promise.all(all.map((s) => s.stop("SIGTERM").catch(() => s.kill())));
    await nats?.stop();
    await receiver?.close();
    if (denoDir) await rm(denoDir, { recursive: true, force: true });
  });

  /** Posts an order and returns its id and trace id. */
  async function post(userId: string, amount: number): Promise<{ orderId: string; traceId: string }> {
    const posted = await postOrder(orderUrl(), { userId, amount, currency: "EUR" });
    expect(posted.status, JSON.stringify(posted.body)).toBe(201);
    expect(posted.body.traceId).toMatch(/^[0-9a-f]{32}$/);
    return posted.body as { orderId: string; traceId: string };
  }

  /**
   * Waits for the order's whole trace (the POST, one publish per event, each event processed by the
   * services that act on it), lets late exports land, and checks it is one tree over the four services.
   */
  async function expectOneTrace(traceId: string, chain: string[]): Promise<ReceivedSpan[]> {
    const expected = spanCount(chain);
    const ofTrace = (all: ReceivedSpan[]) => all.filter((s) => s.traceId === traceId);
    await receiver.waitFor((all) => ofTrace(all).length >= expected, 30_000);
    await sleep(SETTLE_MS);
    const trace = ofTrace(receiver.spans());
    const context = `trace ${traceId}:\n${describeSpans(trace)}`;

    expect(trace.length, context).toBe(expected);
    const roots = trace.filter((s) => s.parentSpanId === null);
    expect(roots.length, context).toBe(1);
    expect(roots[0]!.serviceName, context).toBe("order-service");
    expect(roots[0]!.kind, context).toBe(SERVER);
    const ids = new Set(trace.map((s) => s.spanId));
    expect(
      trace.filter((s) => s.parentSpanId !== null && !ids.has(s.parentSpanId)),
      `missing parents in ${context}`,
    ).toEqual([]);
    expect(new Set(trace.map((s) => s.serviceName)), context).toEqual(new Set(SERVICE_LABELS));
    expect(
      trace
        .filter((s) => s.kind === PRODUCER)
        .map((s) => s.name)
        .sort(),
      context,
    ).toEqual(chain.map((e) => publishSpanName(e)).sort());
    for (const label of SERVICE_LABELS) {
      const processed = trace
        .filter((s) => s.kind === CONSUMER && s.serviceName === label)
        .map((s) => s.name)
        .sort();
      expect(processed, `${label} in ${context}`).toEqual(
        processedBy(label, chain)
          .map((e) => processSpanName(e))
          .sort(),
      );
    }
    // Each consumer span hangs under the publish span of its event: the traceparent crossed NATS.
    for (const span of trace.filter((s) => s.kind === CONSUMER)) {
      const parent = trace.find((s) => s.spanId === span.parentSpanId);
      expect(parent?.name, `${span.serviceName} ${span.name} in ${context}`).toBe(span.name.replace(/^process /, "publish "));
    }
    expect(
      trace.filter((s) => s.status.code === STATUS_ERROR),
      context,
    ).toEqual([]);
    return trace;
  }

  async function expectCompleted(orders: { orderId: string; traceId: string; chain: string[] }[]): Promise<void> {
    for (const { orderId, traceId, chain } of orders) {
      const final = chain.at(-1) === "SHIPPING_READY" ? "SHIPPING_READY" : "CANCELLED";
      await waitForStatus(orderUrl(), orderId, [final], 30_000);
      expect(await eventTypes(orderUrl(), orderId)).toEqual(chain);
      await expectOneTrace(traceId, chain);
    }
    expect(receiver.rejected()).toEqual([]);
  }

  it("answer the routes every service has: /healthz, /readyz, /metrics, /openapi.json, /asyncapi.json and /docs on each service", async () => {
    for (const name of SERVICES) {
      const s = deno[name]!;
      expect(s.output(), "the Deno entry logs its runtime").toContain('"runtime":"deno"');
      expect((await getJson(`${s.baseUrl}/healthz`)).body).toEqual({ status: "ok", service: name });
      expect((await getJson(`${s.baseUrl}/readyz`)).status).toBe(200);
      const metrics = await fetch(`${s.baseUrl}/metrics`);
      expect(metrics.status).toBe(200);
      expect(await metrics.text()).toMatch(/^# HELP orderstream_/m);
      const doc = await getJson(`${s.baseUrl}/openapi.json`);
      expect(doc.status).toBe(200);
      expect(doc.body).toMatchObject({ openapi: "3.1.0", info: { title: `orderstream ${name} service` } });
      expect((await fetch(`${s.baseUrl}/docs`)).status).toBe(200);
      const events = await getJson(`${s.baseUrl}/asyncapi.json`);
      expect(events.status).toBe(200);
      expect(events.body).toMatchObject({ asyncapi: "3.0.0", info: { title: `orderstream ${name} service events` } });
    }
    const notFound = await fetch(`${orderUrl()}/no-such-route`);
    expect(notFound.status).toBe(404);
    expect(notFound.headers.get("content-type")).toMatch(/^application\/problem\+json/);
  });

  it("complete orders with one trace each over the four services, and notify the user", async () => {
    const user = "deno-user";
    const orders = [
      { ...(await post(user, 40)), chain: HAPPY },
      { ...(await post(user, 25_000)), chain: DECLINED }, // over the default PAYMENT_LIMIT
      { ...(await post("deno-other", 75)), chain: HAPPY },
    ];
    await expectCompleted(orders);

    const mine = orders.filter((o) => o !== orders[2]);
    const notifications = await waitForNotifications(deno.notification!.baseUrl, user, mine.length * 3);
    expect(new Set(notifications.map((n) => n.orderId))).toEqual(new Set(mine.map((o) => o.orderId)));
  });

  it("mix with a Node instance of payment, and keep going when the Deno one drains away", async () => {
    const nodePayment = await startService("payment", env);
    others.push(nodePayment);
    // The two payment instances share the partitions: either may take these.
    await expectCompleted([
      { ...(await post("mixed-user", 10)), chain: HAPPY },
      { ...(await post("mixed-user", 20)), chain: HAPPY },
    ]);

    const denoPayment = deno.payment!;
    expect(await denoPayment.stop("SIGTERM", 30_000), denoPayment.output()).toBe(0);
    expect(denoPayment.output()).toMatch(/drained; bye/);
    // Now only the Node payment is left: these traces span Deno and Node processes.
    await expectCompleted([
      { ...(await post("node-paid", 30)), chain: HAPPY },
      { ...(await post("node-paid", 50_000)), chain: DECLINED },
    ]);
  });

  it("drain on SIGTERM with exit code 0, having downloaded nothing into DENO_DIR and warned about nothing", async () => {
    for (const name of ["order", "shipping", "notification"] as const) {
      const s = deno[name]!;
      expect(await s.stop("SIGTERM", 30_000), `${name}:\n${s.output()}`).toBe(0);
    }
    // Logs go to stdout; stderr would be Deno itself (compatibility or permission warnings).
    for (const s of Object.values(deno)) {
      expect(
        s
          .output()
          .split("\n")
          .filter((line) => line.startsWith("[stderr]")),
        s.name,
      ).toEqual([]);
    }
    const npmCache = join(denoDir, "npm");
    expect(existsSync(npmCache) ? readdirSync(npmCache) : []).toEqual([]);
    expect(existsSync(join(denoDir, "remote"))).toBe(false);
  });
});

/** The user's notifications once there are `count` of them. */
async function waitForNotifications(baseUrl: string, userId: string, count: number): Promise<{ orderId: string; eventType: string }[]> {
  const list = await waitUntil(
    async () => {
      const { status, body } = await getJson(`${baseUrl}/users/${userId}/notifications`);
      return status === 200 && Array.isArray(body) && body.length >= count ? (body as { orderId: string; eventType: string }[]) : undefined;
    },
    { timeoutMs: 15_000, what: `${count} notifications of ${userId}` },
  );
  expect(list).toHaveLength(count);
  return list;
}
