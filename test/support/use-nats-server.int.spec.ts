/**
 * useNatsServer against real nats-servers: its fields refuse to be read before the server runs,
 * a spec's own hooks run inside its start and stop, "file" keeps one server for every test and
 * "test" gives each test a fresh one, the one before closed and stopped.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NatsServerNotStartedError, useNatsServer } from "./use-nats-server.ts";

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe("useNatsServer() (one server per file)", () => {
  const nats = useNatsServer();
  let readTooEarly: unknown;
  try {
    void nats.jsm;
  } catch (err) {
    readTooEarly = err;
  }
  const seen: { port: number; pid: number }[] = [];
  let streamsInOwnHook = -1;
  beforeAll(async () => {
    await nats.jsm.streams.add({ name: "USE", subjects: ["use.>"] });
    streamsInOwnHook = (await nats.jsm.getAccountInfo()).streams;
  });
  afterAll(async () => {
    // Registered after useNatsServer(): runs while the connection is still open.
    expect(nats.nc.isClosed()).toBe(false);
    await nats.jsm.streams.delete("USE");
  });

  it("names the field and the fix when it is read while the file is collected", () => {
    expect(readTooEarly).toBeInstanceOf(NatsServerNotStartedError);
    expect((readTooEarly as Error).message).toContain('"jsm" was read before the server started');
  });

  it("is started, connected and JetStream-ready before the spec's own beforeAll", async () => {
    expect(streamsInOwnHook).toBe(1);
    expect(nats.url).toBe(`nats://127.0.0.1:${nats.server.port}`);
    expect((await nats.js.publish("use.a", "x")).seq).toBe(1);
    seen.push({ port: nats.server.port, pid: nats.server.pid });
  });

  it("keeps the same server and store for the next test", async () => {
    expect({ port: nats.server.port, pid: nats.server.pid }).toEqual(seen[0]);
    expect((await nats.jsm.streams.info("USE")).state.messages).toBe(1);
  });
});

describe('useNatsServer({ per: "test" })', () => {
  const nats = useNatsServer({ per: "test" });
  const before: { pid: number; nc: typeof nats.nc }[] = [];

  it("starts one for the first test", async () => {
    await nats.jsm.streams.add({ name: "FIRST", subjects: ["first.>"] });
    before.push({ pid: nats.server.pid, nc: nats.nc });
  });

  it("starts a fresh one, empty, for the next, the one before closed and stopped", async () => {
    const [first] = before;
    expect(first).toBeDefined();
    expect(nats.server.pid).not.toBe(first!.pid);
    expect(alive(first!.pid)).toBe(false);
    expect(first!.nc.isClosed()).toBe(true);
    expect((await nats.jsm.getAccountInfo()).streams).toBe(0);
  });
});
