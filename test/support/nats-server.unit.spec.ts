import { existsSync } from "node:fs";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { afterEach, describe, expect, it } from "vitest";
import { startNatsServer, type NatsServerHandle } from "./nats-server.ts";

describe("nats-server test harness", () => {
  const started: NatsServerHandle[] = [];
  afterEach(async () => {
    await Promise.all(started.splice(0).map((s) => s.stop()));
  });

  it("starts JetStream on a private port and keeps the store across restart()", async () => {
    const server = await startNatsServer();
    started.push(server);
    expect(server.url).toBe(`nats://127.0.0.1:${server.port}`);
    expect(server.port).not.toBe(4222);
    expect(server.logs()).toMatch(/Starting JetStream/);
    const firstPid = server.pid;

    let nc = await connect({ servers: server.url });
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: "HARNESS", subjects: ["harness.>"] });
    const ack = await jetstream(nc).publish("harness.one", "hello");
    expect(ack.seq).toBe(1);
    await nc.close();

    const same = await server.restart();
    expect(same).toBe(server);
    expect(server.pid).not.toBe(firstPid);
    expect(server.url).toBe(`nats://127.0.0.1:${server.port}`);

    nc = await connect({ servers: server.url });
    const jsm2 = await jetstreamManager(nc);
    const info = await jsm2.streams.info("HARNESS");
    expect(info.state.messages).toBe(1);
    const msg = await jsm2.streams.getMessage("HARNESS", { seq: 1 });
    expect(msg?.string()).toBe("hello");
    await nc.close();

    const storeDir = server.storeDir;
    expect(existsSync(storeDir)).toBe(true);
    await server.stop();
    expect(existsSync(storeDir)).toBe(false);
  });

  it("gives two servers different ports and store dirs", async () => {
    const [a, b] = await Promise.all([startNatsServer(), startNatsServer()]);
    started.push(a, b);
    expect(a.port).not.toBe(b.port);
    expect(a.storeDir).not.toBe(b.storeDir);
    expect(a.pid).not.toBe(b.pid);
  });

  it("survives kill() + restart() (crash recovery keeps the store)", async () => {
    const server = await startNatsServer();
    started.push(server);
    let nc = await connect({ servers: server.url });
    await (await jetstreamManager(nc)).streams.add({ name: "CRASH", subjects: ["crash.>"] });
    await jetstream(nc).publish("crash.x", "persisted");
    await nc.close();

    await server.kill();
    await server.restart();

    nc = await connect({ servers: server.url });
    const info = await (await jetstreamManager(nc)).streams.info("CRASH");
    expect(info.state.messages).toBe(1);
    await nc.close();
  });
});
