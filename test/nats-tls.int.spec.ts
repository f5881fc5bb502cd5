/**
 * TLS to NATS: a throw-away CA made with `openssl`, a nats-server that requires TLS and verifies
 * client certificates (and also uses the project's auth config), and the services and CLI connecting
 * with NATS_URL=tls://…, NATS_TLS_CA, NATS_TLS_CERT and NATS_TLS_KEY.
 */
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { postOrder, startSystem, waitForStatus, type System } from "./support/system.ts";
import { startService } from "./support/processes.ts";
import { runCli } from "./support/cli.ts";
import { startNatsServer, type NatsServerHandle } from "./support/nats-server.ts";
import { ADMIN, natsUserOf } from "../nats/auth/auth-config.ts";
import { SERVICES, type ServiceName } from "../nats/subjects.ts";

const AUTH_CONF = new URL("../nats/auth/nats-server.auth.conf", import.meta.url).pathname;
const PASSWORD = `pw-${crypto.randomUUID().replaceAll("-", "")}`;

let dir: string;
let nats: NatsServerHandle;
let sys: System;
let tlsUrl: string;
let files: { ca: string; cert: string; key: string };

function openssl(args: string[]): void {
  try {
    execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: Buffer };
    if (e.code === "ENOENT") throw new Error("openssl is not installed; install the `openssl` package to run the TLS tests");
    throw new Error(`openssl ${args.join(" ")} failed: ${e.stderr?.toString() ?? e.message}`);
  }
}

/** A CA, a server certificate for 127.0.0.1/localhost, and a client certificate, all for one day. */
function makeCertificates(): void {
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
    "/CN=orderstream test CA",
  ]);
  for (const [name, cn, ext] of [
    ["server", "localhost", "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n"],
    ["client", "orderstream-client", "extendedKeyUsage=clientAuth\n"],
  ] as const) {
    writeFileSync(join(dir, `${name}.ext`), ext);
    openssl(["req", "-newkey", "rsa:2048", "-nodes", "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=${cn}`]);
    openssl([
      "x509",
      "-req",
      "-in",
      `${name}.csr`,
      "-CA",
      "ca.pem",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-out",
      `${name}.pem`,
      "-days",
      "1",
      "-extfile",
      `${name}.ext`,
    ]);
  }
}

const tlsEnv = (parts: Partial<typeof files> = files) => ({
  NATS_URL: tlsUrl,
  ...(parts.ca ? { NATS_TLS_CA: parts.ca } : {}),
  ...(parts.cert ? { NATS_TLS_CERT: parts.cert } : {}),
  ...(parts.key ? { NATS_TLS_KEY: parts.key } : {}),
});
const userEnv = (user: ServiceName | "admin") => ({ NATS_USER: user, NATS_PASSWORD: PASSWORD });

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "orderstream-tls-"));
  makeCertificates();
  files = { ca: join(dir, "ca.pem"), cert: join(dir, "client.pem"), key: join(dir, "client.key") };
  // TLS on top of the project's auth config: the two compose (an include path is relative to the including file).
  copyFileSync(AUTH_CONF, join(dir, "auth.conf"));
  writeFileSync(
    join(dir, "nats.conf"),
    `include "auth.conf"\ntls {\n  cert_file: "${join(dir, "server.pem")}"\n  key_file: "${join(dir, "server.key")}"\n  ca_file: "${files.ca}"\n  verify: true\n  timeout: 2\n}\n`,
  );
  const saved: Record<string, string | undefined> = {};
  const vars = [...SERVICES.map((s) => natsUserOf(s).passwordVar), ADMIN.passwordVar];
  for (const v of vars) {
    saved[v] = process.env[v];
    process.env[v] = PASSWORD;
  }
  try {
    nats = await startNatsServer({ configFile: join(dir, "nats.conf") });
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
  tlsUrl = nats.url.replace("nats://", "tls://");
  sys = await startSystem({ nats, instances: { order: 0, payment: 0, shipping: 0, notification: 0 } });
});

afterAll(async () => {
  await sys?.stop();
  await nats?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("TLS to NATS", () => {
  it("runs the four services over TLS with client certificates, and an order completes", async () => {
    for (const service of SERVICES) await sys.add(service, { ...tlsEnv(), ...userEnv(service) });
    const order = await postOrder(sys.orderUrl, { userId: "tls", amount: 7 });
    expect(order.status).toBe(201);
    await waitForStatus(sys.orderUrl, order.body.orderId, ["SHIPPING_READY"]);
    const cli = await runCli(["events", order.body.orderId], { ...tlsEnv(), ...userEnv("admin") });
    expect(cli.code, cli.stderr).toBe(0);
    expect(cli.stdout).toContain("SHIPPING_READY");
  });

  it("refuses to connect without the CA, without a client certificate, or in plain text", async () => {
    const id = "3e9c6d5e-3d0c-4d7a-9f7e-5a0b0c0d0e0f";
    const noCa = await runCli(["events", id], { ...tlsEnv({ cert: files.cert, key: files.key }), ...userEnv("admin") });
    expect(noCa.code).toBe(1);
    expect(noCa.stderr).toMatch(/certificate/i);
    const noClientCert = await runCli(["events", id], { ...tlsEnv({ ca: files.ca }), ...userEnv("admin") });
    expect(noClientCert.code).toBe(1);
    const plain = await runCli(["events", id], { NATS_URL: nats.url, ...userEnv("admin") });
    expect(plain.code).toBe(1);
  });

  it("stops a service at start-up with a clear message when a TLS setting is unusable", async () => {
    await expect(
      startService("payment", { ...tlsEnv({ ca: files.ca, cert: files.cert }), ...userEnv("payment") }, { readyTimeoutMs: 15_000 }),
    ).rejects.toThrow(/NATS_TLS_CERT is set without NATS_TLS_KEY/);
    await expect(
      startService("payment", { ...tlsEnv({ ...files, ca: join(dir, "missing.pem") }), ...userEnv("payment") }, { readyTimeoutMs: 15_000 }),
    ).rejects.toThrow(/NATS_TLS_CA=.*missing\.pem cannot be read/);
  });
});
