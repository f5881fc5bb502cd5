/**
 * The services over WebSocket: a nats-server with a `websocket {}` listener, the four services as
 * child processes whose NATS_URL is its ws:// URL only. Orders of every outcome complete with their
 * trace context on each event; a service reconnects over WebSocket after the server crashes and
 * comes back; a Deno service works the same way; the CLI reads over WebSocket; a NATS_URL mixing
 * ws:// and nats:// stops a service at start with one line and exit 1, on Node and on Deno.
 */
import { spawn } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startNatsServer, type NatsServerHandle } from "./support/nats-server.ts";
import { childEnv, REPO_ROOT, startService, waitUntil, type ServiceName, type ServiceProcess } from "./support/processes.ts";
import { getJson, postOrder, startSystem, waitForStatus, type System } from "./support/system.ts";
import { runCli } from "./support/cli.ts";

const DENO = join(REPO_ROOT, "node_modules", ".bin", "deno");
/** Deno's first start transpiles into an empty DENO_DIR: generous on a busy 2-core box. */
const DENO_READY_TIMEOUT_MS = 90_000;
const FINAL = ["SHIPPING_READY", "CANCELLED"];
const TRACEPARENT = /^00-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$/;

interface EventRow {
  eventType: string;
  traceparent: string | null;
  data: Record<string, unknown>;
}

let nats: NatsServerHandle;
let sys: System;
let wsUrl: string;

beforeAll(async () => {
  nats = await startNatsServer({ websocket: true });
  wsUrl = nats.wsUrl!;
  sys = await startSystem({ nats, env: { NATS_URL: wsUrl, PAYMENT_LIMIT: "1000" } });
});

afterAll(async () => {
  await sys?.stop();
  await nats?.stop();
});

async function placeOrder(body: unknown): Promise<string> {
  const res = await postOrder(sys.orderUrl, body);
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.orderId as string;
}

async function eventsOf(orderId: string): Promise<EventRow[]> {
  const { status, body } = await getJson(`${sys.orderUrl}/orders/${orderId}/events`);
  expect(status).toBe(200);
  return body as EventRow[];
}

/** Every event carries a traceparent, all of them in the order's one trace. */
function expectOneTraceContext(events: EventRow[]): void {
  const traceIds = events.map((e) => {
    expect(e.traceparent, e.eventType).toMatch(TRACEPARENT);
    return TRACEPARENT.exec(e.traceparent!)![1];
  });
  expect(new Set(traceIds).size).toBe(1);
}

/** Runs a command to its end (bounded) and returns its exit code and output. */
function runToExit(
  command: string[],
  env: Record<string, string>,
  timeoutMs = 90_000,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command[0]!, command.slice(1), { cwd: REPO_ROOT, env: childEnv(env), stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (c: string) => (stdout += c));
    child.stderr.setEncoding("utf8").on("data", (c: string) => (stderr += c));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${command.join(" ")} still running after ${timeoutMs} ms:\n${stdout}\n${stderr}`));
    }, timeoutMs);
    child.once("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe("the four services with NATS_URL=ws://", () => {
  it("each answers /readyz 200", async () => {
    expect(sys.services.map((s) => s.name).sort()).toEqual(["notification", "order", "payment", "shipping"]);
    for (const s of sys.services) expect((await fetch(`${s.baseUrl}/readyz`)).status, s.name).toBe(200);
  });

  it("a happy order reaches SHIPPING_READY, its events in one trace", async () => {
    const id = await placeOrder({ userId: "ws-happy", amount: 25, items: [{ sku: "A-1", quantity: 1, unitPrice: 25 }] });
    expect((await waitForStatus(sys.orderUrl, id, FINAL)).status).toBe("SHIPPING_READY");
    const events = await eventsOf(id);
    expect(events.map((e) => e.eventType)).toEqual(["ORDER_CREATED", "PAYMENT_COMPLETED", "SHIPPING_READY"]);
    expectOneTraceContext(events);
  });

  it("a declined payment ends CANCELLED with PAYMENT_FAILED", async () => {
    const id = await placeOrder({ userId: "ws-declined", amount: 1000.01 });
    const view = await waitForStatus(sys.orderUrl, id, FINAL);
    expect(view).toMatchObject({ status: "CANCELLED", cancelReason: "PAYMENT_FAILED" });
    const events = await eventsOf(id);
    expect(events.map((e) => e.eventType)).toEqual(["ORDER_CREATED", "PAYMENT_FAILED", "ORDER_CANCELLED"]);
    expectOneTraceContext(events);
  });

  it("an out-of-stock item ends CANCELLED with SHIPPING_FAILED after a refund", async () => {
    const id = await placeOrder({ userId: "ws-oos", amount: 20, items: [{ sku: "OUT-OF-STOCK", quantity: 2, unitPrice: 10 }] });
    const view = await waitForStatus(sys.orderUrl, id, FINAL);
    expect(view).toMatchObject({ status: "CANCELLED", cancelReason: "SHIPPING_FAILED" });
    const events = await eventsOf(id);
    expect(events.map((e) => e.eventType)).toEqual([
      "ORDER_CREATED",
      "PAYMENT_COMPLETED",
      "SHIPPING_FAILED",
      "PAYMENT_REFUNDED",
      "ORDER_CANCELLED",
    ]);
    expectOneTraceContext(events);
  });

  it("the CLI reads an order's events over WebSocket as the API answers them", async () => {
    const id = await placeOrder({ userId: "ws-cli", amount: 5 });
    await waitForStatus(sys.orderUrl, id, FINAL);
    const cli = await runCli(["events", id, "--json"], { NATS_URL: wsUrl });
    expect(cli.code, cli.stderr).toBe(0);
    expect(JSON.parse(cli.stdout)).toEqual(await eventsOf(id));
  });

  it("after nats-server is killed and restarted, every service reconnects over WebSocket and orders complete again", async () => {
    const wsPort = new URL(wsUrl).port;
    await nats.kill();
    // While the server is away, no service is ready.
    await waitUntil(
      async () => {
        const codes = await Promise.all(sys.services.map((s) => fetch(`${s.baseUrl}/readyz`).then((r) => r.status)));
        return codes.every((c) => c === 503);
      },
      { timeoutMs: 10_000, intervalMs: 100, what: "every /readyz to answer 503 while nats-server is down" },
    );
    await nats.restart();
    for (const s of sys.services) {
      await waitUntil(async () => (await fetch(`${s.baseUrl}/readyz`)).status === 200, {
        timeoutMs: 30_000,
        intervalMs: 200,
        what: `${s.name} to be ready again after the restart`,
      });
      // The reconnect went to the WebSocket port: the only one the service was given.
      const reconnected = s
        .output()
        .split("\n")
        .filter((l) => l.includes("reconnected to NATS"));
      expect(reconnected.length, s.output()).toBeGreaterThan(0);
      expect(reconnected.at(-1)).toContain(`127.0.0.1:${wsPort}`);
    }
    const id = await placeOrder({ userId: "ws-after-restart", amount: 12 });
    expect((await waitForStatus(sys.orderUrl, id, FINAL, 30_000)).status).toBe("SHIPPING_READY");
    expectOneTraceContext(await eventsOf(id));
  });
});

describe("a Deno service with NATS_URL=ws://", () => {
  let denoDir: string;
  let denoPayment: ServiceProcess | undefined;
  const denoEnv = () => ({
    NATS_URL: wsUrl,
    PAYMENT_LIMIT: "1000",
    DENO_DIR: denoDir,
    DENO_NO_UPDATE_CHECK: "1",
    // Anything Deno tried to fetch would fail here instead of quietly downloading.
    NPM_CONFIG_REGISTRY: "http://127.0.0.1:9/",
    JSR_URL: "http://127.0.0.1:9/",
  });
  const denoCommand = (name: ServiceName): [string, ...string[]] => [DENO, "run", "--cached-only", "-A", `services/${name}/main.deno.ts`];

  beforeAll(async () => {
    accessSync(DENO, constants.X_OK);
    denoDir = await mkdtemp(join(tmpdir(), "orderstream-deno-ws-"));
  });

  afterAll(async () => {
    await denoPayment?.stop("SIGTERM").catch(() => denoPayment?.kill());
    if (denoDir) await rm(denoDir, { recursive: true, force: true });
  });

  it(
    "takes over payment: the Node instance drains away and the Deno one pays the next orders",
    async () => {
      denoPayment = await startService("payment", denoEnv(), { command: denoCommand("payment"), readyTimeoutMs: DENO_READY_TIMEOUT_MS });
      expect((await fetch(`${denoPayment.baseUrl}/readyz`)).status).toBe(200);
      expect(denoPayment.output()).toMatch(/"runtime":"deno"/);
      const nodePayment = sys.of("payment")[0]!;
      expect(await nodePayment.stop("SIGTERM")).toBe(0);
      // The only payment instance left is the Deno one: these orders are paid (or declined) by it.
      const happy = await placeOrder({ userId: "ws-deno", amount: 30 });
      const declined = await placeOrder({ userId: "ws-deno", amount: 2000 });
      expect((await waitForStatus(sys.orderUrl, happy, FINAL, 45_000)).status).toBe("SHIPPING_READY");
      expect(await waitForStatus(sys.orderUrl, declined, FINAL, 45_000)).toMatchObject({
        status: "CANCELLED",
        cancelReason: "PAYMENT_FAILED",
      });
      const events = await eventsOf(happy);
      expect(events.map((e) => e.eventType)).toEqual(["ORDER_CREATED", "PAYMENT_COMPLETED", "SHIPPING_READY"]);
      expectOneTraceContext(events);
      expect(denoPayment.output()).not.toMatch(/"level":"(error|fatal)"/);
    },
    DENO_READY_TIMEOUT_MS + 120_000,
  );

  it("refuses a NATS_URL mixing ws:// and nats:// with one line and exit 1", async () => {
    const mixed = `${wsUrl},${nats.url}`;
    const run = await runToExit(denoCommand("order"), { ...denoEnv(), NATS_URL: mixed });
    expect(run.code, run.stderr).toBe(1);
    expect(run.stderr.trim().split("\n")).toEqual([
      `order: NATS_URL mixes WebSocket (${wsUrl}) and TCP (${nats.url}) servers: ` +
        "a NATS client uses one transport for its first connection and every reconnect, so the TCP ones would be dialled as WebSocket. " +
        "List only ws:// / wss:// URLs (each server's websocket port) or only nats:// / tls:// / host:port ones (its client port)",
    ]);
  });
});

describe("a NATS_URL the services refuse", () => {
  it("a Node service given ws:// and nats:// together prints why in one line and exits 1", async () => {
    const mixed = `${nats.url},${wsUrl}`;
    const run = await runToExit([process.execPath, "--import", "tsx", "scripts/service.ts", "shipping"], { NATS_URL: mixed, PORT: "0" });
    expect(run.code, run.stderr).toBe(1);
    const lines = run.stderr.trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toBe(
      `shipping: NATS_URL mixes WebSocket (${wsUrl}) and TCP (${nats.url}) servers: ` +
        "a NATS client uses one transport for its first connection and every reconnect, so the TCP ones would be dialled as WebSocket. " +
        "List only ws:// / wss:// URLs (each server's websocket port) or only nats:// / tls:// / host:port ones (its client port)",
    );
  });

  it("a Node service given wss:// with NATS_TLS_CA says to use NODE_EXTRA_CA_CERTS, exit 1", async () => {
    const run = await runToExit([process.execPath, "--import", "tsx", "scripts/service.ts", "order"], {
      NATS_URL: "wss://127.0.0.1:1",
      NATS_TLS_CA: "/nonexistent/ca.pem",
      PORT: "0",
    });
    expect(run.code, run.stderr).toBe(1);
    expect(run.stderr.trim().split("\n")).toHaveLength(1);
    expect(run.stderr).toMatch(
      /^order: NATS_TLS_CA is set but NATS_URL is WebSocket \(wss:\/\/127\.0\.0\.1:1\).*NODE_EXTRA_CA_CERTS=<ca\.pem> on Node, DENO_CERT=<ca\.pem> on Deno/,
    );
  });

  it("the CLI given a mixed list fails with the same reason", async () => {
    const cli = await runCli(["dlq", "list"], { NATS_URL: `${wsUrl},${nats.url}` });
    expect(cli.code).toBe(1);
    expect(cli.stderr).toContain("NATS_URL mixes WebSocket");
  });
});
