/**
 * The shared "cancelled" error (request-cancel.ts): the wrapper hands nats.js's own reasons through,
 * and once connectNats installed it, requests on a real nats-server still answer, time out and
 * report no responders exactly as before — through the one request class nats.js uses.
 */
import { afterAll, beforeAll, describe, expect, it, vi, type MockInstance } from "vitest";
import { errors, RequestOne, type NatsConnection } from "@nats-io/transport-node";
import { startNatsServer, type NatsServerHandle } from "../test/support/nats-server.ts";
import { connectNats } from "./connect.ts";
import { withSharedCancelError } from "./request-cancel.ts";

describe("withSharedCancelError", () => {
  it("passes a given reason through and the shared error when there is none", () => {
    const seen: (Error | undefined)[] = [];
    const shared = new Error("shared");
    const cancel = withSharedCancelError((err) => {
      seen.push(err);
    }, shared);
    const failed = new Error("publish failed");
    const request = {} as RequestOne;
    cancel.call(request, failed);
    cancel.call(request);
    expect(seen).toEqual([failed, shared]);
  });
});

describe("requests after connectNats installed it", () => {
  let server: NatsServerHandle;
  let nc: NatsConnection;
  /** nats.js's own cancel, watched underneath the wrapper connectNats puts on top of it. */
  let original: MockInstance<(err?: Error) => void>;

  beforeAll(async () => {
    server = await startNatsServer({ jetstream: false });
    original = vi.spyOn(RequestOne.prototype, "cancel");
    nc = await connectNats({ servers: [server.url], name: "request-cancel-test", failFast: true });
    nc.subscribe("echo", { callback: (_err, m) => void m.respond(m.data) });
    await nc.flush();
  });

  afterAll(async () => {
    original?.mockRestore();
    await nc?.close();
    await server?.stop();
  });

  it("answers each request, then cancels it with one shared error instead of a new one", async () => {
    expect(RequestOne.prototype.cancel).not.toBe(original);
    original.mockClear();
    const replies = await Promise.all(Array.from({ length: 50 }, (_, i) => nc.request("echo", `ping ${i}`, { timeout: 2_000 })));
    expect(replies.map((m) => m.string())).toEqual(Array.from({ length: 50 }, (_, i) => `ping ${i}`));
    // The class connectNats wrapped is the one nats.js builds its requests from.
    expect(original).toHaveBeenCalledTimes(50);
    const reasons = new Set(original.mock.calls.map(([err]) => err));
    expect(reasons.size).toBe(1);
    expect([...reasons][0]).toBeInstanceOf(errors.RequestError);
  });

  it("still times out with a TimeoutError and reports no responders", async () => {
    nc.subscribe("silent", { callback: () => {} });
    await nc.flush();
    await expect(nc.request("silent", "", { timeout: 100 })).rejects.toBeInstanceOf(errors.TimeoutError);
    const noOne = await nc.request("nobody.listens", "", { timeout: 2_000 }).catch((err: unknown) => err);
    expect(noOne).toBeInstanceOf(errors.RequestError);
    expect((noOne as InstanceType<typeof errors.RequestError>).isNoResponders()).toBe(true);
  });
});
