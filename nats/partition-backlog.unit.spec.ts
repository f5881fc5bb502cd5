// The backlog gauges' view of a service's partition consumers, kept from its deliveries: what it
// reports, and which consumers it would ask the server about (only where it may hide a backlog).
import { describe, expect, it } from "vitest";
import { BACKLOG_STALE_MS, PartitionBacklog } from "./jetstream-stats.ts";

function clocked(consumers = ["payment-p00", "payment-p01"]) {
  let now = 1_000;
  const backlog = new PartitionBacklog(consumers, () => now);
  return { backlog, advance: (ms: number) => (now += ms) };
}

describe("PartitionBacklog", () => {
  it("reports every consumer from the start, at 0, and asks about none of them", () => {
    const { backlog, advance } = clocked();
    advance(10 * BACKLOG_STALE_MS);
    expect(backlog.snapshot()).toEqual([
      { consumer: "payment-p00", pending: 0, ackPending: 0, redelivered: 0 },
      { consumer: "payment-p01", pending: 0, ackPending: 0, redelivered: 0 },
    ]);
    expect(backlog.stale()).toEqual([]);
  });

  it("takes the pending count each delivery carries, and counts the message in flight until it is settled", () => {
    const { backlog } = clocked();
    backlog.delivered("payment-p00", 41, 1);
    expect(backlog.snapshot()[0]).toEqual({ consumer: "payment-p00", pending: 41, ackPending: 1, redelivered: 0 });
    backlog.settled("payment-p00");
    backlog.delivered("payment-p00", 40, 3);
    expect(backlog.snapshot()[0]).toEqual({ consumer: "payment-p00", pending: 40, ackPending: 1, redelivered: 1 });
    backlog.settled("payment-p00");
    expect(backlog.snapshot()[0]).toEqual({ consumer: "payment-p00", pending: 40, ackPending: 0, redelivered: 0 });
  });

  it("trusts a caught-up consumer however long it stays idle: its next message would be delivered here", () => {
    const { backlog, advance } = clocked();
    backlog.delivered("payment-p00", 0, 1);
    backlog.settled("payment-p00");
    advance(60_000);
    expect(backlog.stale()).toEqual([]);
  });

  it("asks about a consumer that had messages pending when nothing more came for a while", () => {
    const { backlog, advance } = clocked();
    backlog.delivered("payment-p01", 7, 1);
    backlog.settled("payment-p01");
    advance(BACKLOG_STALE_MS - 1);
    expect(backlog.stale()).toEqual([]);
    advance(1);
    expect(backlog.stale()).toEqual(["payment-p01"]);
    // What the server answers becomes the view, and is trusted for another while.
    backlog.read("payment-p01", 0);
    expect(backlog.snapshot()[1]!.pending).toBe(0);
    expect(backlog.stale()).toEqual([]);
  });

  it("asks about a consumer whose message has been in flight here for a while (a stuck handler)", () => {
    const { backlog, advance } = clocked();
    backlog.delivered("payment-p00", 0, 1);
    advance(BACKLOG_STALE_MS);
    expect(backlog.stale()).toEqual(["payment-p00"]);
    backlog.read("payment-p00", 12);
    expect(backlog.snapshot()[0]).toEqual({ consumer: "payment-p00", pending: 12, ackPending: 1, redelivered: 0 });
    backlog.settled("payment-p00");
    expect(backlog.stale()).toEqual([]);
  });
});
