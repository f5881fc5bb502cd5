import { describe, expect, it } from "vitest";
import type { StreamInfo } from "@nats-io/jetstream";
import { assertStreamWritable, StreamNotWritableError } from "./jetstream-probe.ts";

type Answer = Pick<StreamInfo, "config" | "cluster">;
type Peer = [name: string, current: boolean];

// Shaped like nats-server 2.15.3's STREAM.INFO answers, as measured with two of three nodes SIGKILLed.
const answer = (numReplicas: number, leader: string | undefined, peers: Peer[]): Answer =>
  ({
    config: { name: "ORDERS", num_replicas: numReplicas },
    cluster: { name: "c", leader, replicas: peers.map(([name, current]) => ({ name, current, active: 0 })) },
  }) as unknown as Answer;

const refusal = (info: Answer): StreamNotWritableError => {
  try {
    assertStreamWritable(info);
  } catch (err) {
    if (err instanceof StreamNotWritableError) return err;
    throw err;
  }
  throw new Error("expected the stream to be judged not writable");
};

describe("assertStreamWritable", () => {
  it("accepts a single server's stream: it names itself leader and has no other replica", () => {
    // given a stream on one server (a site's leaf server too)
    const info = answer(1, "NC6CQBQX6JXD", []);
    // when judged / then it takes writes
    expect(() => assertStreamWritable(info)).not.toThrow();
  });

  it("accepts an R3 stream with a leader and one of its two replicas current (one node down)", () => {
    expect(() =>
      assertStreamWritable(
        answer(3, "n2", [
          ["n1", false],
          ["n3", true],
        ]),
      ),
    ).not.toThrow();
    expect(() =>
      assertStreamWritable(
        answer(3, "n2", [
          ["n1", true],
          ["n3", true],
        ]),
      ),
    ).not.toThrow();
  });

  it("refuses the answer a surviving replica gives from its own copy: no leader, no error", () => {
    // given the remaining node of three answering for a stream whose leader is gone
    const info = answer(3, undefined, [
      ["n1", false],
      ["n2", false],
      ["n3", true],
    ]);
    // when judged
    const err = refusal(info);
    // then it names the stream, the missing leader and the replicas that are not current
    expect(err.leader).toBe("");
    expect(err.notCurrent).toEqual(["n1", "n2"]);
    expect(err.message).toBe(
      "the ORDERS stream has no leader, so it cannot take writes (replicas not current: n1, n2); " +
        "it takes writes again once a majority of its replicas' nats-servers are up and routed to each other",
    );
  });

  it("refuses a leader left alone: it still names itself, but no replica is current", () => {
    const err = refusal(
      answer(3, "n2", [
        ["n1", false],
        ["n3", false],
      ]),
    );
    expect(err.leader).toBe("n2");
    expect(err.message).toMatch(
      /^the ORDERS stream has lost its quorum \(leader n2\), so it cannot take writes \(replicas not current: n1, n3\)/,
    );
  });

  it("needs three of five for an R5 stream", () => {
    expect(() =>
      assertStreamWritable(
        answer(5, "a", [
          ["b", true],
          ["c", true],
          ["d", false],
          ["e", false],
        ]),
      ),
    ).not.toThrow();
    expect(
      refusal(
        answer(5, "a", [
          ["b", true],
          ["c", false],
          ["d", false],
          ["e", false],
        ]),
      ).notCurrent,
    ).toEqual(["c", "d", "e"]);
  });

  it("does not count the leader twice when the answer lists it among the replicas", () => {
    expect(
      refusal(
        answer(3, "n2", [
          ["n2", true],
          ["n1", false],
          ["n3", false],
        ]),
      ).leader,
    ).toBe("n2");
  });
});
