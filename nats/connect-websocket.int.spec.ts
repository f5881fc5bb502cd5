/**
 * connectNats over WebSocket, in this process, against a nats-server started with the project's
 * auth config (nats/auth/nats-server.auth.conf) plus a websocket listener: the options a service
 * relies on reach the server the same way as over TCP — user and password, the inbox prefix its
 * permissions are written for, the shared request-cancel error — and once this process has a
 * WebSocket connection, a TCP one is refused (nats.js has one transport factory per process).
 */
import { afterAll, beforeAll, describe, expect, it, vi, type MockInstance } from "vitest";
import { errors, RequestOne, type NatsConnection } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { startNatsServer, type NatsServerHandle } from "../test/support/nats-server.ts";
import { NatsServerListError } from "../shared/nats-servers.ts";
import { ADMIN, natsUserOf } from "./auth/auth-config.ts";
import { SERVICES } from "./subjects.ts";
import { connectNats, inboxPrefixOf } from "./connect.ts";

const AUTH_CONF = new URL("./auth/nats-server.auth.conf", import.meta.url).pathname;
const PASSWORD = `pw-payment-${crypto.randomUUID().replaceAll("-", "")}`;

let server: NatsServerHandle;
const open: NatsConnection[] = [];

function connectAsPayment(opts: { password?: string; inboxPrefix?: string | null } = {}): Promise<NatsConnection> {
  return connectNats({
    servers: [server.wsUrl!],
    name: "connect-websocket-test",
    user: "payment",
    password: opts.password ?? PASSWORD,
    inboxPrefix: opts.inboxPrefix === null ? undefined : (opts.inboxPrefix ?? inboxPrefixOf("payment")),
    failFast: true,
  }).then((nc) => {
    open.push(nc);
    return nc;
  });
}

beforeAll(async () => {
  // The config reads every user's password from the server's environment; only payment's is used here.
  const passwords = Object.fromEntries(
    [...SERVICES.map((s) => natsUserOf(s).passwordVar), ADMIN.passwordVar].map((v) => [v, `pw-${crypto.randomUUID()}`]),
  );
  server = await startNatsServer({
    configFile: AUTH_CONF,
    websocket: true,
    env: { ...passwords, [natsUserOf("payment").passwordVar]: PASSWORD },
  });
});

afterAll(async () => {
  await Promise.all(open.map((nc) => nc.close()));
  await server?.stop();
});

describe("connectNats with a ws:// URL", () => {
  let original: MockInstance<(err?: Error) => void>;

  beforeAll(() => {
    original = vi.spyOn(RequestOne.prototype, "cancel");
  });
  afterAll(() => original?.mockRestore());

  it("logs in with user and password and answers JetStream requests on the service's own inbox, each cancelled with the shared error", async () => {
    const nc = await connectAsPayment();
    expect(nc.getServer()).toBe(new URL(server.wsUrl!).host);
    original.mockClear();
    const jsm = await jetstreamManager(nc);
    for (let i = 0; i < 5; i++) expect((await jsm.getAccountInfo()).streams).toBe(0);
    // The request class connectNats patched is the one the WebSocket connection builds requests from.
    expect(RequestOne.prototype.cancel).not.toBe(original);
    expect(original.mock.calls.length).toBeGreaterThanOrEqual(5);
    const reasons = new Set(original.mock.calls.map(([err]) => err));
    expect(reasons.size).toBe(1);
    expect([...reasons][0]).toBeInstanceOf(errors.RequestError);
  });

  it("without the inbox prefix the same user's requests are refused: the prefix did reach the server above", async () => {
    const nc = await connectAsPayment({ inboxPrefix: null });
    await expect(jetstreamManager(nc).then((jsm) => jsm.getAccountInfo())).rejects.toThrow(/Permissions Violation/i);
  });

  it("a wrong password is an Authorization Violation", async () => {
    await expect(connectAsPayment({ password: "not-the-password" })).rejects.toThrow(/Authorization Violation/i);
  });

  it("then refuses a TCP connection in the same process, saying why", async () => {
    const refused = await connectNats({ servers: [server.url], name: "tcp-after-ws", failFast: true }).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(NatsServerListError);
    expect((refused as Error).message).toBe(
      `this process already connected to NATS over WebSocket and cannot also connect over TCP (${server.url}): ` +
        "nats.js builds every reconnect from one transport per process. Use one kind of URL in this process",
    );
  });
});
