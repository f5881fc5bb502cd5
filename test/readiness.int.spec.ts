/**
 * Readiness is a real round trip, not the client's connection state: with nats-server frozen
 * (SIGSTOP: the socket stays open, nothing answers) every service's /readyz turns 503 within 5 s,
 * says which check failed and since when, and the `orderstream_ready` gauge drops to 0; /healthz
 * stays 200. After SIGCONT, /readyz is 200 again within 2 s.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSystem, type System } from "./support/system.ts";
import { waitUntil } from "./support/processes.ts";

let sys: System;
let frozen = false;

beforeAll(async () => {
  sys = await startSystem();
});

afterAll(async () => {
  if (frozen) process.kill(sys.nats.pid, "SIGCONT");
  await sys?.stop();
});

const readyz = async (url: string) => {
  const res = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(1_000) });
  return {
    status: res.status,
    body: (await res.json()) as {
      status: string;
      nats: string;
      checks: Record<"nats" | "jetstream" | "consumers" | "store", { ok: boolean; since: string; detail?: string }>;
    },
  };
};
const gauge = async (url: string) => {
  const text = await (await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(1_000) })).text();
  return Number(/^orderstream_ready\{[^}]*\} (\S+)$/m.exec(text)?.[1]);
};

describe("/readyz with nats-server frozen (SIGSTOP) and thawed (SIGCONT)", () => {
  it("is 503 within 5 s naming the failed check, and 200 again within 2 s", async () => {
    for (const s of sys.services) {
      const { status, body } = await readyz(s.baseUrl);
      expect(status, s.name).toBe(200);
      expect(body.checks.nats.ok).toBe(true);
      expect(await gauge(s.baseUrl), s.name).toBe(1);
    }

    process.kill(sys.nats.pid, "SIGSTOP");
    frozen = true;
    const stoppedAt = Date.now();
    const unreadyAfter: number[] = [];
    await Promise.all(
      sys.services.map(async (s) => {
        await waitUntil(async () => (await readyz(s.baseUrl)).status === 503, {
          timeoutMs: 8_000,
          intervalMs: 100,
          what: `${s.name} /readyz 503`,
        });
        unreadyAfter.push(Date.now() - stoppedAt);
      }),
    );
    for (const s of sys.services) {
      const { body } = await readyz(s.baseUrl);
      expect(body.status).toBe("not ready");
      expect(body.nats).toBe("disconnected");
      expect(body.checks.nats.ok, s.name).toBe(false);
      expect(body.checks.nats.detail).toMatch(/did not answer a PING/);
      expect(Date.parse(body.checks.nats.since)).toBeGreaterThanOrEqual(stoppedAt - 50);
      expect((await fetch(`${s.baseUrl}/healthz`)).status).toBe(200);
      expect(await gauge(s.baseUrl), s.name).toBe(0);
    }

    process.kill(sys.nats.pid, "SIGCONT");
    frozen = false;
    const thawedAt = Date.now();
    const readyAfter: number[] = [];
    await Promise.all(
      sys.services.map(async (s) => {
        await waitUntil(async () => (await readyz(s.baseUrl)).status === 200, {
          timeoutMs: 8_000,
          intervalMs: 50,
          what: `${s.name} /readyz 200`,
        });
        readyAfter.push(Date.now() - thawedAt);
      }),
    );
    console.log(
      `readiness: 503 after ${unreadyAfter.sort((a, b) => a - b).join(", ")} ms frozen; 200 after ${readyAfter.sort((a, b) => a - b).join(", ")} ms thawed`,
    );
    expect(Math.max(...unreadyAfter)).toBeLessThanOrEqual(5_000);
    expect(Math.max(...readyAfter)).toBeLessThanOrEqual(2_000);
  });
});
