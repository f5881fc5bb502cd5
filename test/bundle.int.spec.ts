/**
 * The built bundle (`npm run build`, scripts/build.ts), the way production, `npm start` and the
 * bench run the services: built into a temp directory outside the repository, so nothing can
 * resolve from node_modules (the runtime image has none), then the four services as
 * `node <SERVICE_NODE_ARGS> service.mjs <name>` against a private nats-server, an order end to end
 * with its trace exported, the CLI bundle, and source-mapped stack traces.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildBundles, SERVICE_BUNDLE, SERVICE_NODE_ARGS } from "../scripts/build.ts";
import { startNatsServer, type NatsServerHandle } from "./support/nats-server.ts";
import { startOtlpReceiver, type OtlpReceiver } from "./support/otlp-receiver.ts";
import { childEnv, REPO_ROOT, startService, waitUntil, type ServiceName, type ServiceProcess } from "./support/processes.ts";
import { eventTypes, getJson, postOrder, waitForStatus } from "./support/system.ts";
import { spanCount } from "./support/trace-shape.ts";

const HAPPY_CHAIN = ["ORDER_CREATED", "PAYMENT_COMPLETED", "SHIPPING_READY"];

const SERVICES: ServiceName[] = ["order", "payment", "shipping", "notification"];

let outdir: string;
let nats: NatsServerHandle;
let receiver: OtlpReceiver;
const services: ServiceProcess[] = [];

function bundleCommand(name: string): [string, ...string[]] {
  return [process.execPath, ...SERVICE_NODE_ARGS, join(outdir, "service.mjs"), name];
}

beforeAll(async () => {
  outdir = mkdtempSync(join(tmpdir(), "orderstream-dist-"));
  await buildBundles(outdir);
  nats = await startNatsServer();
  receiver = await startOtlpReceiver();
  const env = {
    NATS_URL: nats.url,
    OTEL_TRACES_EXPORTER: "otlp",
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
    OTEL_BSP_SCHEDULE_DELAY: "200",
  };
  for (const name of SERVICES) services.push(await startService(name, env, { command: bundleCommand(name) }));
});

afterAll(async () => {
  await Promise.all(services.map((s) => s.stop().catch(() => s.kill())));
  await receiver?.close();
  await nats?.stop();
  if (outdir) rmSync(outdir, { recursive: true, force: true });
});

describe("the service bundle", () => {
  it("runs every service (ready), handles an order end to end and exports its trace", async () => {
    const posted = await postOrder(services[0]!.baseUrl, {
      userId: "bundle-u1",
      amount: 30,
      items: [{ sku: "A-1", quantity: 1, unitPrice: 30 }],
    });
    expect(posted.status).toBe(201);
    const { orderId, traceId } = posted.body as { orderId: string; traceId: string };
    await waitForStatus(services[0]!.baseUrl, orderId, ["SHIPPING_READY"]);
    expect(await eventTypes(services[0]!.baseUrl, orderId)).toEqual(["ORDER_CREATED", "PAYMENT_COMPLETED", "SHIPPING_READY"]);
    await waitUntil(
      async () => {
        const { status, body } = await getJson(`${services[3]!.baseUrl}/users/bundle-u1/notifications`);
        return status === 200 && (body as unknown[]).length === 3;
      },
      { timeoutMs: 15_000, what: "three notifications" },
    );
    // 1 HTTP + 3 sends + a process span per service that acts on each event, from all four services.
    const spans = await receiver.waitFor((all) => all.filter((s) => s.traceId === traceId).length >= spanCount(HAPPY_CHAIN), 20_000);
    const ofOrder = spans.filter((s) => s.traceId === traceId);
    expect(new Set(ofOrder.map((s) => s.serviceName))).toEqual(new Set(SERVICES.map((n) => `${n}-service`)));
    expect(receiver.rejected()).toEqual([]);
  });

  it("serves each service's OpenAPI and AsyncAPI documents and docs page from the bundle (no node_modules)", async () => {
    for (const service of services) {
      const { status, body } = await getJson(`${service.baseUrl}/openapi.json`);
      expect(status, service.name).toBe(200);
      expect(body as { openapi: string; paths: object }).toMatchObject({ openapi: "3.1.0", paths: { "/healthz": {}, "/docs": {} } });
      const page = await fetch(`${service.baseUrl}/docs`);
      expect(page.status, service.name).toBe(200);
      expect(await page.text()).toContain("/openapi.json");
      const events = await getJson(`${service.baseUrl}/asyncapi.json`);
      expect(events.status, service.name).toBe(200);
      expect(events.body).toMatchObject({ asyncapi: "3.0.0", channels: {}, operations: {} });
    }
    expect(((await getJson(`${services[0]!.baseUrl}/openapi.json`)).body as { paths: object }).paths).toHaveProperty("/orders/{orderId}");
  });

  it("the CLI bundle reads the same order's timeline", async () => {
    const { body } = await postOrder(services[0]!.baseUrl, { userId: "bundle-u2", amount: 5 });
    await waitForStatus(services[0]!.baseUrl, body.orderId, ["SHIPPING_READY"]);
    const cli = spawnSync(process.execPath, [join(outdir, "cli.mjs"), "events", body.orderId], {
      env: childEnv({ NATS_URL: nats.url }),
      encoding: "utf8",
      timeout: 30_000,
    });
    expect(cli.status, cli.stderr).toBe(0);
    expect(cli.stdout).toContain("SHIPPING_READY");
  });

  it("names the function in a stack trace, and maps it back to the TypeScript sources with --enable-source-maps", () => {
    // An invalid LOG_LEVEL makes pino throw from createLogger, before NATS is touched.
    const crash = (extra: string[]) =>
      spawnSync(process.execPath, [...extra, ...SERVICE_NODE_ARGS, join(outdir, "service.mjs"), "payment"], {
        env: childEnv({ NATS_URL: nats.url, LOG_LEVEL: "no-such-level", PORT: "0" }),
        encoding: "utf8",
        timeout: 30_000,
      });
    const plain = crash([]);
    expect(plain.status).not.toBe(0);
    expect(plain.stderr).toMatch(/at createLogger \(.*service\.mjs:\d+:\d+\)/);
    const mapped = crash(["--enable-source-maps"]);
    expect(mapped.status).not.toBe(0);
    expect(mapped.stderr).toMatch(/at createLogger \(.*shared\/logger\.ts:\d+:\d+\)/);
  });

  it("the Dockerfile's ENTRYPOINT runs it with the same flags", () => {
    const dockerfile = readFileSync(join(REPO_ROOT, "Dockerfile"), "utf8");
    const entrypoints = [...dockerfile.matchAll(/^ENTRYPOINT (\[.*\])$/gm)].map((m) => JSON.parse(m[1]!) as string[]);
    expect(entrypoints).toContainEqual(["node", ...SERVICE_NODE_ARGS, SERVICE_BUNDLE]);
  });
});
