/**
 * The pipelined JetStream publisher against a real nats-server: what it answers is what nats.js's
 * `nats.js.publish` answers (acknowledgement, duplicate, refusal with its code, no responders), many in
 * flight keep their order in the stream, and what gets no answer fails in time.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { errors, headers } from "@nats-io/transport-node";
import { JetStreamApiError, PubHeaders } from "@nats-io/jetstream";
import { useNatsServer } from "../test/support/use-nats-server.ts";
import { createJetStreamPublisher, type JetStreamPublisher } from "./jetstream-publisher.ts";
import { isWrongLastSequence } from "./wrong-last-sequence.ts";

const nats = useNatsServer();
let publisher: JetStreamPublisher;
const body = new TextEncoder().encode("{}");

function guarded(msgId: string, lastSubjectSequence?: number) {
  const h = headers();
  h.set(PubHeaders.MsgIdHdr, msgId);
  if (lastSubjectSequence !== undefined) h.set(PubHeaders.ExpectedLastSubjectSequenceHdr, String(lastSubjectSequence));
  return h;
}

beforeAll(async () => {
  await nats.jsm.streams.add({ name: "PUB", subjects: ["pub.>"], duplicate_window: 60_000_000_000 });
  publisher = createJetStreamPublisher(nats.nc, { timeoutMs: 500 });
});

describe("createJetStreamPublisher", () => {
  it("acknowledges with the stored sequence, and a repeated message id as a duplicate of it", async () => {
    const first = await publisher.publish("pub.a", body, guarded("a-1"));
    expect(first).toEqual({ stream: "PUB", seq: expect.any(Number), duplicate: false });
    expect(await publisher.publish("pub.a", body, guarded("a-1"))).toEqual({ stream: "PUB", seq: first.seq, duplicate: true });
  });

  it("rejects a refused expectation with the server's JetStreamApiError (wrong last sequence)", async () => {
    await publisher.publish("pub.b", body, guarded("b-1", 0));
    const refused = await publisher.publish("pub.b", body, guarded("b-2", 0)).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(JetStreamApiError);
    expect((refused as JetStreamApiError).code).toBe(10071);
    expect(isWrongLastSequence(refused)).toBe(true);
  });

  it("keeps stream order for thousands in flight, each answered with its own sequence", async () => {
    const acks = await Promise.all(
      Array.from({ length: 3_000 }, (_, i) => publisher.publish("pub.c", new TextEncoder().encode(String(i)), headers())),
    );
    const seqs = acks.map((a) => a.seq);
    expect(new Set(seqs).size).toBe(3_000);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    const last = await nats.jsm.streams.getMessage("PUB", { seq: seqs.at(-1)! });
    expect(last?.string()).toBe("2999");
  });

  it("rejects with NoRespondersError when no stream takes the subject", async () => {
    await expect(publisher.publish("nowhere.x", body, headers())).rejects.toBeInstanceOf(errors.NoRespondersError);
  });

  it("times out when the subject is answered by nobody in time (a plain subscriber that never replies)", async () => {
    const silent = nats.nc.subscribe("silent.x");
    const started = Date.now();
    await expect(publisher.publish("silent.x", body, headers())).rejects.toBeInstanceOf(errors.TimeoutError);
    expect(Date.now() - started).toBeLessThan(2_000);
    silent.unsubscribe();
  });

  it("fails what is in flight, and what comes later, once closed", async () => {
    const own = createJetStreamPublisher(nats.nc, { timeoutMs: 5_000 });
    const silent = nats.nc.subscribe("silent.y");
    const pending = own.publish("silent.y", body, headers());
    own.close();
    await expect(pending).rejects.toBeInstanceOf(errors.ClosedConnectionError);
    await expect(own.publish("pub.d", body, headers())).rejects.toBeInstanceOf(errors.ClosedConnectionError);
    silent.unsubscribe();
  });
});
