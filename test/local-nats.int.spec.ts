/**
 * `npm start`'s NATS, as it runs it: nats/auth/nats-server.auth.conf with the passwords given to the
 * server only as bcrypt hashes (scripts/nats-password-hash.ts), the four services each with its own
 * user and plain password. The server logs no "Plaintext passwords" warning, the services, the CLI
 * and natscli connect; and every natscli command docs/operations.md and the README show (read from
 * those pages) works with the natscli context npm start writes for its admin user.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startNatsServer, type NatsServerHandle } from "./support/nats-server.ts";
import { postOrder, startSystem, waitForStatus, type System } from "./support/system.ts";
import { REPO_ROOT } from "./support/processes.ts";
import { runCli } from "./support/cli.ts";
import { BUCKETS, consumerName, DLQ_STREAM, eventSubject, NOTIFICATIONS_STREAM, ORDERS_STREAM, SERVICES } from "../nats/subjects.ts";
import { findNatsCli, NATS_CLI_INSTALL_HINT } from "../scripts/nats-binary.ts";
import { natscliContext, newPasswords } from "../scripts/local-nats.ts";
import { BCRYPT_COST, serverPasswordEnv } from "../scripts/nats-password-hash.ts";

const AUTH_CONF = join(REPO_ROOT, "nats/auth/nats-server.auth.conf");
const PLAINTEXT_WARNING = /Plaintext passwords detected/;
const passwords = newPasswords();
let serverEnv: Record<string, string>;
let nats: NatsServerHandle;
let sys: System;
let orderId: string;
let dir: string;
let contextFile: string;

beforeAll(async () => {
  serverEnv = await serverPasswordEnv(passwords);
  nats = await startNatsServer({ configFile: AUTH_CONF, env: serverEnv });
  sys = await startSystem({ nats, instances: { order: 0, payment: 0, shipping: 0, notification: 0 } });
  // Sequentially: the first (order) creates the streams, the others find and bind them.
  for (const service of SERVICES) await sys.add(service, { NATS_USER: service, NATS_PASSWORD: passwords[service] });
  const order = await postOrder(sys.orderUrl, { userId: "local-nats", amount: 12 });
  expect(order.status).toBe(201);
  orderId = order.body.orderId;
  await waitForStatus(sys.orderUrl, orderId, ["SHIPPING_READY"]);
  dir = mkdtempSync(join(tmpdir(), "orderstream-natscli-"));
  contextFile = join(dir, "natscli.json");
  writeFileSync(contextFile, JSON.stringify(natscliContext({ url: nats.url, passwords })), { mode: 0o600 });
});

afterAll(async () => {
  await sys?.stop();
  await nats?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("npm start's server with bcrypt-hashed passwords", () => {
  it("is given only quoted bcrypt hashes, one per user, none holding a password", () => {
    expect(Object.keys(serverEnv).sort()).toEqual([
      "ADMIN_NATS_PASSWORD",
      "LOYALTY_NATS_PASSWORD",
      "NOTIFICATION_NATS_PASSWORD",
      "ORDER_NATS_PASSWORD",
      "PAYMENT_NATS_PASSWORD",
      "SHIPPING_NATS_PASSWORD",
    ]);
    for (const value of Object.values(serverEnv)) {
      expect(value).toMatch(new RegExp(`^"\\$2[aby]\\$${BCRYPT_COST}\\$[./A-Za-z0-9]{53}"$`));
      for (const pw of Object.values(passwords)) expect(value).not.toContain(pw);
    }
  });

  it("logs no plaintext-password warning (and the same config with plain passwords does)", async () => {
    expect(nats.logs()).toMatch(/Server is ready/);
    expect(nats.logs()).not.toMatch(PLAINTEXT_WARNING);
    const plainEnv = Object.fromEntries(Object.entries(passwords).map(([user, pw]) => [`${user.toUpperCase()}_NATS_PASSWORD`, pw]));
    const plain = await startNatsServer({ configFile: AUTH_CONF, env: plainEnv, jetstream: false });
    try {
      expect(plain.logs()).toMatch(PLAINTEXT_WARNING);
    } finally {
      await plain.stop();
    }
  });

  it("lets the services (the order went through all of them) and the CLI in with the plain passwords, and nobody with a wrong one", async () => {
    const events = await runCli(["events", orderId, "--json"], { NATS_URL: nats.url, NATS_USER: "admin", NATS_PASSWORD: passwords.admin });
    expect(events.code, events.stderr).toBe(0);
    expect(JSON.parse(events.stdout).map((e: { eventType: string }) => e.eventType)).toEqual([
      "ORDER_CREATED",
      "PAYMENT_COMPLETED",
      "SHIPPING_READY",
    ]);
    const wrong = await runCli(["events", orderId], { NATS_URL: nats.url, NATS_USER: "admin", NATS_PASSWORD: passwords.payment });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/Authorization Violation/i);
    for (const s of sys.services) expect(s.output(), s.name).toMatch(/connected to NATS; consumers bound/);
    for (const pw of Object.values(passwords)) expect(nats.logs()).not.toContain(pw);
  });
});

/** A natscli command's outcome; `pty` runs it under `script`, for the commands that want a terminal. */
function natscli(args: string[], env: Record<string, string>, pty = false): Promise<{ code: number; output: string }> {
  const bin = findNatsCli();
  if (!bin) throw new Error(`Cannot run the documented natscli commands: ${NATS_CLI_INSTALL_HINT}`);
  // natscli's NATS_URL/NATS_USER/NATS_PASSWORD would win over the context: the test's own are dropped.
  const childEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("NATS_"))) as Record<string, string>;
  const quote = (a: string) => `'${a.replaceAll("'", `'\\''`)}'`;
  const [file, argv] = pty ? ["script", ["-qec", [bin, ...args].map(quote).join(" "), "/dev/null"]] : [bin, args];
  return new Promise((resolve, reject) => {
    const child = execFile(
      file,
      argv as string[],
      { env: { ...childEnv, ...env }, timeout: 60_000, maxBuffer: 8 << 20 },
      (err, stdout, stderr) => {
        if (err && (err as NodeJS.ErrnoException).code === "ENOENT") {
          reject(new Error(pty ? "`script` (util-linux, Debian's bsdutils) is needed to give natscli a terminal" : NATS_CLI_INSTALL_HINT));
          return;
        }
        resolve({ code: typeof err?.code === "number" ? err.code : err ? 1 : 0, output: `${stdout}${stderr}` });
      },
    );
    child.stdin?.end();
  });
}

/**
 * The `nats …` lines (comments dropped) of the fenced blocks that set npm start's natscli context,
 * in docs/operations.md ("The NATS CLI beside ours") and the README, without repeats.
 */
function documentedCommands(): string[] {
  const lines = new Set<string>();
  for (const file of ["docs/operations.md", "README.md"]) {
    const page = readFileSync(join(REPO_ROOT, file), "utf8");
    const blocks = [...page.matchAll(/```bash\n([\s\S]*?)```/g)].map((m) => m[1]!).filter((b) => b.includes("export NATS_CONTEXT="));
    expect(blocks.length, `${file}: a bash block that sets NATS_CONTEXT`).toBeGreaterThan(0);
    for (const block of blocks) {
      for (const line of block.split("\n").map((l) => l.replace(/\s+#\s.*$/, "").trim())) if (line.startsWith("nats ")) lines.add(line);
    }
  }
  return [...lines];
}

/** Shell words: 'single-quoted' or bare. */
const words = (line: string) => [...line.matchAll(/'([^']*)'|(\S+)/g)].map((m) => m[1] ?? m[2]!);

describe("natscli as docs/operations.md and the README show it", () => {
  it("runs every documented command with npm start's context (NATS_CONTEXT) and its admin user", async () => {
    const commands = documentedCommands();
    // The page shows at least the reports and one order's subject; a block that lost them fails here.
    for (const needed of ["nats stream report", "nats consumer report ORDERS", "nats stream subjects ORDERS", "nats stream view ORDERS"]) {
      expect(
        commands.some((c) => c.startsWith(needed)),
        needed,
      ).toBe(true);
    }
    const env = { NATS_CONTEXT: contextFile };
    const instances = await natscli(["kv", "ls", "service-instances"], env);
    const payment = /^payment\.\S+$/m.exec(instances.output)?.[0];
    expect(payment, instances.output).toBeTruthy();
    const placeholders: Record<string, string> = { "<orderId>": orderId, "<instance>": payment! };

    for (const line of commands) {
      const args = words(line)
        .slice(1)
        .map((w) => w.replace(/<[A-Za-z ]+>/g, (p) => placeholders[p] ?? p));
      expect(args.join(" "), `${line}: a placeholder the test does not fill`).not.toMatch(/<[A-Za-z ]+>/);
      const { code, output } = await natscli(args, env, args[0] === "stream" && args[1] === "view");
      expect(code, `${line}\n${output}`).toBe(0);
      const what = args.slice(0, 2).join(" ");
      if (what === "stream report")
        for (const s of [ORDERS_STREAM, NOTIFICATIONS_STREAM, DLQ_STREAM, `KV_${BUCKETS.instances}`]) expect(output, line).toContain(s);
      if (what === "consumer report")
        for (const c of [consumerName("order", 0), consumerName("payment", 3), consumerName("notification", 2)])
          expect(output, line).toContain(c);
      if (what === "stream subjects")
        for (const t of ["ORDER_CREATED", "PAYMENT_COMPLETED", "SHIPPING_READY"] as const)
          expect(output, line).toContain(eventSubject(orderId, t));
      if (what === "stream view") {
        expect(output, line).toContain(`"orderId":"${orderId}"`);
        expect(output, line).toMatch(/traceparent: 00-[0-9a-f]{32}-/);
      }
      if (what === "kv ls") expect(output, line).toMatch(/^order\.\S+$/m);
      if (what === "kv get") expect(output, line).toContain('"lanes":[');
      if (what === "server check") expect(output, line).toMatch(/^OK JetStream/m);
    }
  });

  it("refuses the reports to a service's user (least privilege)", async () => {
    const { code, output } = await natscli(
      ["--server", nats.url, "--user", "payment", "--password", passwords.payment, "stream", "report"],
      {},
    );
    expect(code).not.toBe(0);
    expect(output).toMatch(/Permissions Violation for Publish to "\$JS\.API\.STREAM\.LIST"/);
  });
});
