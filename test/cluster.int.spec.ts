/**
 * A 3-node JetStream cluster on loopback (configs written to a temp dir, free ports), the services
 * pointed at all three with ORDERS_REPLICAS=3: the streams and the state buckets are R3, reads see
 * the writes just acknowledged (whichever replica would answer a direct get), and SIGKILLing one
 * nats-server mid-load (the ORDERS stream leader, the hardest one to lose) loses no order and
 * produces no contradictory event. With a second node down ORDERS cannot take writes: every service's
 * /readyz is 503 naming the jetstream check (the server it is on still answers), also once the survivor
 * answers the stream's info from its own copy without a leader, and 200 once a node is back.
 *
 * 2.9.10 elects slowly with three servers on one 2-core box: every wait here is generous.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { jetstreamManager, type JetStreamManager, type StreamInfo } from "@nats-io/jetstream";
import { startNatsServer, type NatsServerHandle } from "./support/nats-server.ts";
import { getJson, placeUntilAccepted, startSystem, type System } from "./support/system.ts";
import { waitUntil } from "./support/processes.ts";
import { waitForIdleLanes } from "./support/lanes.ts";
import { freePort } from "../scripts/nats-binary.ts";
import { ensureOrderStreams } from "../nats/setup.ts";
import { listDeadLetters } from "../nats/dead-letter-queue.ts";
import { BUCKETS, DLQ_STREAM, NOTIFICATIONS_STREAM, ORDERS_STREAM } from "../nats/subjects.ts";
import { processAlive } from "../scripts/supervise.ts";

const ORDERS = 120;
const POST_INTERVAL_MS = 100; // ≈ 12 s of posting
const MAX_IN_FLIGHT = 8;
const POST_RETRY_DEADLINE_MS = 60_000;
const KILL_AFTER_MS = 4_000;
const PAYMENT_LIMIT = 1000;

type Kind = "happy" | "declined" | "out-of-stock";
const EXPECTED: Record<Kind, { status: string; events: string[] }> = {
  happy: { status: "SHIPPING_READY", events: ["ORDER_CREATED", "PAYMENT_COMPLETED", "SHIPPING_READY"] },
  declined: { status: "CANCELLED", events: ["ORDER_CREATED", "PAYMENT_FAILED", "ORDER_CANCELLED"] },
  "out-of-stock": {
    status: "CANCELLED",
    events: ["ORDER_CREATED", "PAYMENT_COMPLETED", "SHIPPING_FAILED", "PAYMENT_REFUNDED", "ORDER_CANCELLED"],
  },
};

interface Node {
  name: string;
  clientPort: number;
  clusterPort: number;
  server?: NatsServerHandle;
}

let configDir: string;
const nodes: Node[] = [];
let sys: System | undefined;
let nc: NatsConnection;
let jsm: JetStreamManager;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function configOf(node: Node, all: Node[]): string {
  return [
    `server_name: ${node.name}`,
    `listen: 127.0.0.1:${node.clientPort}`,
    "jetstream {}", // store_dir: the harness passes -sd with a private temp dir
    "cluster {",
    "  name: orderstream-test",
    `  listen: 127.0.0.1:${node.clusterPort}`,
    "  routes: [",
    ...all.filter((n) => n !== node).map((n) => `    nats-route://127.0.0.1:${n.clusterPort}`),
    "  ]",
    "}",
    "",
  ].join("\n");
}

/** Stream info once the stream has a leader and every replica is current. */
async function healthyStream(name: string, timeoutMs = 60_000): Promise<StreamInfo> {
  return waitUntil(
    async () => {
      const info = await jsm.streams.info(name);
      const replicas = info.cluster?.replicas ?? [];
      return info.cluster?.leader && replicas.every((r) => r.current && !r.offline) ? info : undefined;
    },
    { timeoutMs, intervalMs: 500, what: `stream ${name} to have a leader and current replicas` },
  );
}

/** Stream info once ORDERS has a leader (the replicas may be behind or down). */
async function healthyStreamLeader(): Promise<StreamInfo & { cluster: { leader: string } }> {
  return waitUntil(
    async () => {
      const info = await jsm.streams.info(ORDERS_STREAM);
      return info.cluster?.leader ? (info as StreamInfo & { cluster: { leader: string } }) : undefined;
    },
    { timeoutMs: 30_000, intervalMs: 500, what: "ORDERS to have a leader" },
  );
}

beforeAll(async () => {
  configDir = await mkdtemp(join(tmpdir(), "orderstream-cluster-"));
  for (let i = 1; i <= 3; i++) nodes.push({ name: `n${i}`, clientPort: await freePort(), clusterPort: await freePort() });
  await Promise.all(
    nodes.map(async (node) => {
      const file = join(configDir, `${node.name}.conf`);
      await writeFile(file, configOf(node, nodes));
      node.server = await startNatsServer({ configFile: file, port: node.clientPort });
    }),
  );
  const urls = nodes.map((n) => n.server!.url);
  nc = await connect({ servers: urls, maxReconnectAttempts: -1, reconnectTimeWait: 250, timeout: 10_000 });
  jsm = await jetstreamManager(nc, { timeout: 10_000, checkAPI: false });
  // The JetStream meta group needs a leader before anything can be created.
  await waitUntil(async () => (await jsm.getAccountInfo()) !== undefined, {
    timeoutMs: 60_000,
    intervalMs: 500,
    what: "the JetStream cluster to elect a meta leader",
  });
  // Created here the way the services create them, so their leaders are elected before the services
  // (whose readiness wait is shorter) start binding.
  await ensureOrderStreams(jsm, 3);
  await healthyStream(ORDERS_STREAM);
  await healthyStream(NOTIFICATIONS_STREAM);

  sys = await startSystem({
    nats: nodes[0]!.server!,
    env: { NATS_URL: urls.join(","), ORDERS_REPLICAS: "3", PAYMENT_LIMIT: String(PAYMENT_LIMIT) },
  });
}, 180_000);

afterAll(async () => {
  await nc?.close();
  await sys?.stop();
  await Promise.all(nodes.map((n) => n.server?.stop()));
  if (configDir) await rm(configDir, { recursive: true, force: true });
}, 60_000);

describe("a 3-node JetStream cluster", () => {
  it("keeps ORDERS, NOTIFICATIONS, the DLQ and the state buckets on three replicas", async () => {
    for (const stream of [ORDERS_STREAM, NOTIFICATIONS_STREAM, DLQ_STREAM]) {
      const info = await healthyStream(stream);
      expect(info.config.num_replicas, stream).toBe(3);
      expect(info.cluster?.replicas, stream).toHaveLength(2);
      expect(info.cluster?.name).toBe("orderstream-test");
    }
    // The opt-in loyalty service is not started here: its bucket does not exist.
    for (const bucket of Object.values(BUCKETS).filter((b) => b !== BUCKETS.loyaltyPoints)) {
      const info = await jsm.streams.info(`KV_${bucket}`);
      expect(info.config.num_replicas, bucket).toBe(3);
    }
  });

  it("reads its writes: every order is readable right after its POST, whichever replica answers", async () => {
    const misses: string[] = [];
    for (let i = 0; i < 100; i++) {
      const created = await fetch(`${sys!.orderUrl}/orders`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ userId: "cluster-ryw", amount: 5 }),
      });
      expect(created.status).toBe(201);
      const { orderId } = (await created.json()) as { orderId: string };
      const [view, events] = await Promise.all([
        getJson(`${sys!.orderUrl}/orders/${orderId}`),
        getJson(`${sys!.orderUrl}/orders/${orderId}/events`),
      ]);
      if (view.status !== 200) misses.push(`${orderId}: view ${view.status}`);
      if (events.status !== 200 || events.body[0]?.eventType !== "ORDER_CREATED") misses.push(`${orderId}: events ${events.status}`);
    }
    expect(misses).toEqual([]);
  });

  it("loses no order when a nats-server is SIGKILLed mid-load", async () => {
    const before = await healthyStream(ORDERS_STREAM);
    const victim = nodes.find((n) => n.name === before.cluster!.leader)!;
    expect(victim, `leader ${before.cluster!.leader}`).toBeDefined();

    const placed = Array.from({ length: ORDERS }, (_, i) => {
      const kind: Kind = i % 5 < 3 ? "happy" : i % 5 === 3 ? "declined" : "out-of-stock";
      return {
        i,
        kind,
        key: `cluster-${i}-${Date.now()}`,
        userId: `cluster-u${i % 12}`,
        orderId: "",
        attempts: 0,
        failures: [] as string[],
      };
    });
    const bodyOf = (p: (typeof placed)[number]) =>
      p.kind === "happy"
        ? { userId: p.userId, amount: 10 + (p.i % 40) }
        : p.kind === "declined"
          ? { userId: p.userId, amount: PAYMENT_LIMIT + 1 }
          : { userId: p.userId, amount: 20, items: [{ sku: "OUT-OF-STOCK", quantity: 1, unitPrice: 20 }] };

    // POST with the same Idempotency-Key until it is accepted: while the cluster elects new leaders
    // the order service answers 503 problems (or times out), never another 5xx.
    const place = (p: (typeof placed)[number]) =>
      placeUntilAccepted(sys!.orderUrl, p, bodyOf(p), {
        deadlineMs: POST_RETRY_DEADLINE_MS,
        requestTimeoutMs: 15_000,
        intervalMs: 500,
        diagnostics: () => `order service output:\n${sys!.of("order")[0]!.output().split("\n").slice(-30).join("\n")}`,
      });

    const t0 = Date.now();
    const killed = (async () => {
      await sleep(KILL_AFTER_MS);
      await victim.server!.kill();
      return Date.now() - t0;
    })();
    const inFlight = new Set<Promise<void>>();
    const posts: Promise<void>[] = [];
    for (const p of placed) {
      await sleep(Math.max(0, t0 + p.i * POST_INTERVAL_MS - Date.now()));
      while (inFlight.size >= MAX_IN_FLIGHT) await Promise.race(inFlight);
      const job: Promise<void> = place(p).finally(() => inFlight.delete(job));
      inFlight.add(job);
      posts.push(job);
    }
    await Promise.all(posts);
    const killedAt = await killed;
    console.log(
      `cluster: killed ${victim.name} (ORDERS leader) at +${killedAt} ms; ${ORDERS} orders posted by +${Date.now() - t0} ms; ` +
        `${placed.filter((p) => p.failures.length).length} needed retries`,
    );
    expect(new Set(placed.map((p) => p.orderId)).size).toBe(ORDERS);

    // A new leader among the two left, still R3 in its config.
    const after = await waitUntil(
      async () => {
        const info = await jsm.streams.info(ORDERS_STREAM);
        return info.cluster?.leader && info.cluster.leader !== victim.name ? info : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 500, what: "ORDERS to have a new leader" },
    );
    expect(after.cluster?.replicas?.find((r) => r.name === victim.name)?.current).not.toBe(true);
    expect(after.config.num_replicas).toBe(3);

    // No order lost: every one reaches its final state with exactly its events.
    const done = new Set<string>();
    await waitUntil(
      async () => {
        const open = placed.filter((p) => !done.has(p.orderId));
        for (let k = 0; k < open.length; k += 20) {
          await Promise.all(
            open.slice(k, k + 20).map(async (p) => {
              const { status, body } = await getJson(`${sys!.orderUrl}/orders/${p.orderId}`);
              if (status === 200 && body.status === EXPECTED[p.kind].status) done.add(p.orderId);
            }),
          );
        }
        return done.size === ORDERS;
      },
      { timeoutMs: 90_000, intervalMs: 1_000, what: `all ${ORDERS} orders to reach their final state` },
    ).catch(async (err) => {
      // What is stuck, and where: a few open orders' events, the consumers with work left, the services' warnings.
      const open = placed.filter((p) => !done.has(p.orderId));
      const lines: string[] = [];
      for (const p of open.slice(0, 5)) {
        const { body } = await getJson(`${sys!.orderUrl}/orders/${p.orderId}/events`);
        lines.push(
          `${p.kind} ${p.orderId}: ${JSON.stringify((body as { eventType: string; seq: number }[]).map((e) => [e.seq, e.eventType]))}`,
        );
      }
      const busy = (await jsm.consumers.list(ORDERS_STREAM).next()).filter((c) => c.num_pending + c.num_ack_pending > 0);
      for (const c of busy) {
        lines.push(
          `${c.name}: pending ${c.num_pending}, ack pending ${c.num_ack_pending}, floor ${c.ack_floor.stream_seq}, delivered ${c.delivered.stream_seq}`,
        );
      }
      for (const s of sys!.services) {
        const warnings = s
          .output()
          .split("\n")
          .filter((l) => !l.includes('"level":"info"') || /took over|assignment/.test(l));
        lines.push(`--- ${s.name} ${s.pid}\n${warnings.slice(-15).join("\n")}`);
      }
      throw new Error(`${(err as Error).message}; ${open.length} open:\n${lines.join("\n")}`);
    });
    console.log(`cluster: all orders final by +${Date.now() - t0} ms`);
    const wrong: string[] = [];
    for (const p of placed) {
      const { body } = await getJson(`${sys!.orderUrl}/orders/${p.orderId}/events`);
      const types = (body as { eventType: string }[]).map((e) => e.eventType);
      if (JSON.stringify(types) !== JSON.stringify(EXPECTED[p.kind].events)) wrong.push(`${p.kind} ${p.orderId}: ${types.join(",")}`);
    }
    expect(wrong).toEqual([]);

    // Nothing left behind: every consumer caught up, and no message was given up on the way.
    await waitForIdleLanes(jsm, { timeoutMs: 60_000, intervalMs: 500 });
    expect(await listDeadLetters(jsm)).toEqual([]);
  });

  it("is not ready while ORDERS cannot take writes (two of three nodes down), and ready again once one is back", async () => {
    // The node killed above stays down; losing one more leaves no quorum: the server a service is
    // connected to still answers a PING, but ORDERS cannot take writes. The follower is killed, so the
    // survivor is the leader: it names itself leader for a while, then answers the stream's info from
    // its own copy with no leader and no error (nats/jetstream-probe.ts) — readiness must see through both.
    const { cluster } = await healthyStreamLeader();
    const second = nodes.find((n) => n.server && processAlive(n.server.pid) && n.name !== cluster.leader)!;
    expect(second, `a live follower of ${cluster.leader}`).toBeDefined();
    await second.server!.kill();
    const t0 = Date.now();
    const readyz = async (url: string) => {
      const res = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(2_000) });
      return { status: res.status, body: (await res.json()) as { checks: Record<"nats" | "jetstream", { ok: boolean; detail?: string }> } };
    };
    const unready = async (detail: RegExp, timeoutMs: number) => {
      for (const s of sys!.services) {
        const body = await waitUntil(
          async () => {
            const r = await readyz(s.baseUrl);
            return r.status === 503 &&
              r.body.checks.nats.ok &&
              !r.body.checks.jetstream.ok &&
              detail.test(r.body.checks.jetstream.detail ?? "")
              ? r.body
              : undefined;
          },
          { timeoutMs, intervalMs: 250, what: `${s.name} /readyz 503 with the jetstream check failing (${detail.source})` },
        );
        expect(body.checks.jetstream.detail, s.name).toMatch(/^JetStream did not serve the ORDERS stream's info: /);
      }
    };
    await unready(/./, 30_000);
    const unreadyAt = Date.now() - t0;
    // The survivor answers for ORDERS itself now, without a leader: the answer an earlier probe took for "ok".
    const leaderless = await waitUntil(
      async () => {
        const info = await jsm.streams.info(ORDERS_STREAM);
        return info.cluster?.leader ? undefined : info;
      },
      { timeoutMs: 60_000, intervalMs: 500, what: "the surviving node to answer ORDERS' info without a leader" },
    );
    // The former leader now lists itself among the replicas: no one is leader.
    expect(leaderless.cluster?.replicas?.map((r) => r.name)).toContain(cluster.leader);
    const leaderlessAt = Date.now() - t0;
    await unready(/the ORDERS stream has no leader, so it cannot take writes/, 10_000);

    await second.server!.restart();
    const t1 = Date.now();
    for (const s of sys!.services) {
      await waitUntil(async () => (await readyz(s.baseUrl)).status === 200, {
        timeoutMs: 60_000,
        intervalMs: 250,
        what: `${s.name} /readyz 200 with a quorum again`,
      });
    }
    console.log(
      `cluster: killed ${second.name} (follower of ${cluster.leader}): every /readyz 503 by +${unreadyAt} ms, ` +
        `leaderless stream info from the survivor at +${leaderlessAt} ms; restarted: every /readyz 200 ${Date.now() - t1} ms after`,
    );
  }, 240_000);
});
