/**
 * A full JetStream store, as a user and an operator see it. The account gets a small JetStream
 * file limit; orders are POSTed until one is refused. The refusal names the cause (507
 * problem+json, Retry-After), the order service leaves the load balancer (/readyz 503, check
 * `store`) while the consumers stay ready to drain, /metrics shows used ≈ limit and the refused
 * write by reason. Then the limit is raised with a config reload: the order service is ready
 * again and every order that was accepted completes, none dead-lettered.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { startNatsServer, type NatsServerHandle } from "./support/nats-server.ts";
import { eventTypes, postOrder, startSystem, waitForStatus, type System } from "./support/system.ts";
import { waitUntil } from "./support/processes.ts";
import { listDeadLetters } from "../nats/dead-letter-queue.ts";

const SMALL_KB = 400;
const MAX_POSTS = 3_000;
const HAPPY = ["ORDER_CREATED", "PAYMENT_COMPLETED", "SHIPPING_READY"];

let dir: string;
let configFile: string;
let nats: NatsServerHandle;
let sys: System;
let nc: NatsConnection | undefined;

/** One account with a JetStream file limit; clients without credentials land in it. */
const accountConfig = (maxFileKb: number) => `accounts {
  APP: { jetstream: { max_file: ${maxFileKb}KB }, users: [{ user: app, password: app }] }
}
no_auth_user: app
`;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "orderstream-store-full-"));
  configFile = join(dir, "nats.conf");
  await writeFile(configFile, accountConfig(SMALL_KB));
  nats = await startNatsServer({ configFile });
  sys = await startSystem({ nats });
});

afterAll(async () => {
  await nc?.close();
  await sys?.stop();
  await nats?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const metric = (text: string, name: string, labels = "") =>
  Number(new RegExp(`^${name}\\{[^}]*${labels}[^}]*\\} (\\S+)$`, "m").exec(text)?.[1] ?? NaN);

describe("the JetStream store runs full", () => {
  it("refuses with the named cause, turns the order service unready, and loses nothing accepted", async () => {
    const accepted: string[] = [];
    let refusal: Awaited<ReturnType<typeof postOrder>> | undefined;
    for (let i = 0; i < MAX_POSTS && !refusal; i += 4) {
      const answers = await Promise.all(
        [0, 1, 2, 3].map((k) => postOrder(sys.orderUrl, { userId: `full-u${(i + k) % 5}`, amount: 10 + ((i + k) % 50) })),
      );
      for (const a of answers) {
        if (a.status === 201) accepted.push(a.body.orderId);
        else if (a.status === 507) refusal ??= a;
        else throw new Error(`unexpected answer ${a.status}: ${JSON.stringify(a.body)}`);
      }
    }
    expect(refusal, `no refusal after ${accepted.length} orders`).toBeDefined();
    console.log(`store full: ${accepted.length} orders accepted before the first 507`);
    expect(refusal!.headers.get("content-type")).toMatch(/^application\/problem\+json/);
    expect(refusal!.headers.get("retry-after")).toBe("30");
    expect(refusal!.body).toMatchObject({
      status: 507,
      title: "Insufficient Storage",
      type: "https://orderstream.dev/problems/store-full",
    });
    expect(refusal!.body.detail).toBe(
      "The event store is full (JetStream: resource limits exceeded for account); the request was not carried out. Retry later.",
    );

    const order = sys.of("order")[0]!;
    const readyz = await waitUntil(
      async () => {
        const res = await fetch(`${order.baseUrl}/readyz`);
        return res.status === 503 ? ((await res.json()) as { checks: { store: { ok: boolean; detail?: string } } }) : undefined;
      },
      { timeoutMs: 10_000, what: "the order service's /readyz to be 503" },
    );
    expect(readyz.checks.store.ok).toBe(false);
    expect(readyz.checks.store.detail).toMatch(/resource limits exceeded for account|storage is full/);
    // Consumers are not taken out for a full store: they must drain.
    expect((await fetch(`${sys.of("payment")[0]!.baseUrl}/readyz`)).status).toBe(200);

    const text = await waitUntil(
      async () => {
        const t = await (await fetch(`${order.baseUrl}/metrics`)).text();
        // The probe reads the account's usage every second while the store is full.
        const limit = metric(t, "orderstream_jetstream_store_limit_bytes");
        return limit > 0 && metric(t, "orderstream_jetstream_store_used_bytes") / limit > 0.9 ? t : undefined;
      },
      { timeoutMs: 10_000, what: "the store gauges to show the store full" },
    );
    const used = metric(text, "orderstream_jetstream_store_used_bytes");
    const limit = metric(text, "orderstream_jetstream_store_limit_bytes");
    console.log(`store full: used ${used} of ${limit} bytes`);
    expect(limit).toBe(SMALL_KB * 1024);
    expect(used / limit).toBeGreaterThan(0.9);
    expect(metric(text, "orderstream_jetstream_writes_refused_total", 'reason="account_limit"')).toBeGreaterThanOrEqual(1);
    expect(metric(text, "orderstream_ready")).toBe(0);

    // Room again: the limit raised by a config reload.
    await writeFile(configFile, accountConfig(SMALL_KB * 20));
    process.kill(nats.pid, "SIGHUP");
    await waitUntil(async () => (await fetch(`${order.baseUrl}/readyz`)).status === 200, {
      timeoutMs: 15_000,
      what: "the order service's /readyz to be 200 once the limit is raised",
    });

    await Promise.all(accepted.map((id) => waitForStatus(sys.orderUrl, id, ["SHIPPING_READY"], 90_000)));
    for (const id of accepted) expect(await eventTypes(sys.orderUrl, id), id).toEqual(HAPPY);
    nc = await connect({ servers: nats.url });
    expect(await listDeadLetters(await jetstreamManager(nc))).toEqual([]);
    // And orders are taken again.
    expect((await postOrder(sys.orderUrl, { userId: "full-after", amount: 5 })).status).toBe(201);
  });
});
