/** The readiness state machine (host/readiness.ts) and the store refusal mapping (shared/store-refusal.ts), given/when/then. */
import { describe, expect, it } from "vitest";
import { JetStreamApiError } from "@nats-io/jetstream";
import { errors } from "@nats-io/transport-node";
import { createReadiness, STORE_HEADROOM_BYTES } from "./readiness.ts";
import type { JetStreamProbe, StoreUsage } from "../nats/jetstream-probe.ts";
import { storeRefusal } from "../shared/store-refusal.ts";
import { natsUnavailable, storeFullProblem } from "../shared/http/hardening.ts";

const apiError = (code: number, err_code: number, description: string) => new JetStreamApiError({ code, err_code, description });

function fakeProbe(answers: {
  ping?: () => Promise<void>;
  stream?: () => Promise<void>;
  usage?: () => Promise<StoreUsage>;
}): JetStreamProbe {
  return {
    ping: answers.ping ?? (() => Promise.resolve()),
    ordersStream: answers.stream ?? (() => Promise.resolve()),
    storeUsage: answers.usage ?? (() => Promise.resolve({ used: 0, limit: 0 })),
  };
}

describe("readiness", () => {
  it("given every probe answering and consumers bound, when probed, then it is ready", async () => {
    const r = createReadiness({ probe: fakeProbe({}), storeGatesReadiness: true });
    expect(r.ready()).toBe(false); // not probed yet
    r.setConsumersBound(true);
    await r.probeOnce();
    expect(r.ready()).toBe(true);
  });

  it("given a PING that times out, when probed, then the nats check fails with since and detail; an answer restores it", async () => {
    let t = 1_000_000;
    let ping: () => Promise<void> = () => Promise.reject(new errors.TimeoutError());
    const r = createReadiness({ probe: fakeProbe({ ping: () => ping() }), storeGatesReadiness: false, now: () => t });
    r.setConsumersBound(true);
    await r.probeOnce();
    expect(r.ready()).toBe(false);
    const failed = r.report().checks.nats;
    expect(failed).toMatchObject({ ok: false, since: new Date(t).toISOString() });
    expect(failed.detail).toMatch(/did not answer a PING/);
    t += 3_000;
    await r.probeOnce();
    expect(r.report().checks.nats.since).toBe(new Date(1_000_000).toISOString()); // still failing since then
    ping = () => Promise.resolve();
    await r.probeOnce();
    expect(r.ready()).toBe(true);
    expect(r.report().checks.nats).toEqual({ ok: true, since: new Date(t).toISOString() });
  });

  it("given the ORDERS stream without a leader, when probed, then the jetstream check fails", async () => {
    const r = createReadiness({
      probe: fakeProbe({ stream: () => Promise.reject(apiError(503, 10008, "JetStream system temporarily unavailable")) }),
      storeGatesReadiness: false,
    });
    r.setConsumersBound(true);
    await r.probeOnce();
    expect(r.ready()).toBe(false);
    expect(r.report().checks.jetstream.detail).toMatch(/temporarily unavailable/);
  });

  it("given a refused write, when the store gates readiness, then unready until the limit leaves room", async () => {
    let usage: StoreUsage = { used: 1_000_000, limit: 1_000_000 };
    const r = createReadiness({ probe: fakeProbe({ usage: () => Promise.resolve(usage) }), storeGatesReadiness: true, usageEvery: 100 });
    r.setConsumersBound(true);
    await r.probeOnce();
    expect(r.report().checks.store.ok).toBe(false); // full by the numbers
    usage = { used: 1_000_000, limit: 2_000_000 };
    await r.probeOnce(); // read again at once while full, though usageEvery is 100
    expect(r.ready()).toBe(true);
    r.storeRefused({ reason: "account_limit", code: 10002, description: "resource limits exceeded for account" });
    expect(r.ready()).toBe(false);
    usage = { used: 2_000_000 - STORE_HEADROOM_BYTES, limit: 2_000_000 };
    await r.probeOnce();
    expect(r.ready()).toBe(true);
  });

  it("given a full store with no visible limit, when nothing is freed, then it is re-tested by writes after storeRecheckMs", async () => {
    let t = 0;
    const r = createReadiness({
      probe: fakeProbe({ usage: () => Promise.resolve({ used: 5_000_000, limit: 0 }) }),
      storeGatesReadiness: true,
      storeRecheckMs: 30_000,
      now: () => t,
    });
    r.setConsumersBound(true);
    await r.probeOnce();
    r.storeRefused({ reason: "server_storage", code: 10023, description: "insufficient resources" });
    t = 29_000;
    await r.probeOnce();
    expect(r.ready()).toBe(false);
    t = 30_000;
    await r.probeOnce();
    expect(r.ready()).toBe(true);
  });

  it("given a full store, when the store does not gate readiness (a consumer service), then it stays ready and says so", async () => {
    const r = createReadiness({ probe: fakeProbe({}), storeGatesReadiness: false });
    r.setConsumersBound(true);
    await r.probeOnce();
    r.storeRefused({ reason: "server_storage", code: 10023, description: "insufficient resources" });
    expect(r.ready()).toBe(true);
    expect(r.report().checks.store.ok).toBe(false);
  });
});

describe("store refusals", () => {
  it("maps JetStream's codes, not its words", () => {
    expect(storeRefusal(apiError(503, 10023, "insufficient resources"))?.reason).toBe("server_storage");
    expect(storeRefusal(apiError(400, 10002, "resource limits exceeded for account"))?.reason).toBe("account_limit");
    expect(storeRefusal(apiError(503, 10077, "maximum bytes exceeded"))?.reason).toBe("stream_limit");
    expect(storeRefusal(new Error("wrapped", { cause: apiError(500, 10047, "insufficient storage resources available") }))?.reason).toBe(
      "server_storage",
    );
    expect(storeRefusal(apiError(400, 10071, "wrong last sequence: 3"))).toBeNull();
    expect(storeRefusal(new Error("insufficient resources"))).toBeNull();
  });

  it("answers 507 with Retry-After naming the cause; a full store is not 'did not answer'", () => {
    const err = apiError(503, 10023, "insufficient resources");
    const problem = storeFullProblem(err)!;
    expect(problem.status).toBe(507);
    expect(problem.headers.get("retry-after")).toBe("30");
    expect(problem.message).toBe(
      "The event store is full (JetStream: insufficient resources); the request was not carried out. Retry later.",
    );
    expect(natsUnavailable(err)).toBe(false);
    expect(natsUnavailable(apiError(503, 10008, "JetStream system temporarily unavailable"))).toBe(true);
  });
});
