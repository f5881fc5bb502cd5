/**
 * wss:// with TLS terminated by nats-server's own `websocket { tls {} }` block, its certificate
 * signed by a throw-away CA (openssl). The runtime's WebSocket takes no CA option, so each runtime
 * is given the CA through its trust-store variable — NODE_EXTRA_CA_CERTS on Node, DENO_CERT on
 * Deno — and a declined order goes through the order service on Node and payment on Deno; without
 * the CA the Node service never gets ready.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startNatsServer, type NatsServerHandle } from "./support/nats-server.ts";
import { REPO_ROOT, startService, type ServiceProcess } from "./support/processes.ts";
import { postOrder, waitForStatus } from "./support/system.ts";
import { freePort } from "../scripts/nats-binary.ts";

const DENO = join(REPO_ROOT, "node_modules", ".bin", "deno");
const DENO_READY_TIMEOUT_MS = 90_000;

let dir: string;
let nats: NatsServerHandle;
let wssUrl: string;
let ca: string;
let denoDir: string;
const started: ServiceProcess[] = [];

function openssl(args: string[]): void {
  try {
    execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: Buffer };
    if (e.code === "ENOENT") throw new Error("openssl is not installed; install the `openssl` package to run the TLS tests");
    throw new Error(`openssl ${args.join(" ")} failed: ${e.stderr?.toString() ?? e.message}`);
  }
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "orderstream-wss-"));
  denoDir = mkdtempSync(join(tmpdir(), "orderstream-deno-wss-"));
  openssl([
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    "ca.key",
    "-out",
    "ca.pem",
    "-days",
    "1",
    "-subj",
    "/CN=orderstream wss test CA",
  ]);
  writeFileSync(join(dir, "server.ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n");
  openssl(["req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost"]);
  openssl([
    "x509",
    "-req",
    "-in",
    "server.csr",
    "-CA",
    "ca.pem",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-out",
    "server.pem",
    "-days",
    "1",
    "-extfile",
    "server.ext",
  ]);
  ca = join(dir, "ca.pem");
  const wsPort = await freePort();
  writeFileSync(
    join(dir, "nats.conf"),
    `websocket {\n  listen: "127.0.0.1:${wsPort}"\n  tls {\n    cert_file: "${join(dir, "server.pem")}"\n    key_file: "${join(dir, "server.key")}"\n  }\n}\n`,
  );
  nats = await startNatsServer({ configFile: join(dir, "nats.conf") });
  wssUrl = `wss://127.0.0.1:${wsPort}`;
});

afterAll(async () => {
  await Promise.all(started.map((s) => s.stop("SIGTERM").catch(() => s.kill())));
  await nats?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
  if (denoDir) rmSync(denoDir, { recursive: true, force: true });
});

describe("services over wss://, the CA in the runtime's trust store", () => {
  it("without NODE_EXTRA_CA_CERTS a Node service does not trust the server and never gets ready", async () => {
    await expect(startService("order", { NATS_URL: wssUrl }, { readyTimeoutMs: 5_000 })).rejects.toThrow(
      /not ready .* after 5000 ms \(last probe: GET \/readyz -> 503\)/,
    );
  });

  it(
    "with NODE_EXTRA_CA_CERTS (order on Node) and DENO_CERT (payment on Deno), a declined order is cancelled",
    async () => {
      const order = await startService("order", { NATS_URL: wssUrl, NODE_EXTRA_CA_CERTS: ca });
      started.push(order);
      const payment = await startService(
        "payment",
        { NATS_URL: wssUrl, DENO_CERT: ca, PAYMENT_LIMIT: "100", DENO_DIR: denoDir, DENO_NO_UPDATE_CHECK: "1" },
        { command: [DENO, "run", "--cached-only", "-A", "services/payment/main.deno.ts"], readyTimeoutMs: DENO_READY_TIMEOUT_MS },
      );
      started.push(payment);
      const posted = await postOrder(order.baseUrl, { userId: "wss-declined", amount: 150 });
      expect(posted.status, JSON.stringify(posted.body)).toBe(201);
      const view = await waitForStatus(order.baseUrl, posted.body.orderId as string, ["CANCELLED", "SHIPPING_READY"], 30_000);
      expect(view).toMatchObject({ status: "CANCELLED", cancelReason: "PAYMENT_FAILED" });
    },
    DENO_READY_TIMEOUT_MS + 60_000,
  );
});
