import { describe, expect, it } from "vitest";
import { AckWindow, type Windowed } from "./ack-window.ts";

/** A taken event whose delivery is named, so the spec can say which one was acknowledged. */
const entry = (seq: number): Windowed<string> => ({ seq, msg: `m${seq}`, done: false });
/** One read from the stream on taking over: no delivery to acknowledge it through. */
const readBack = (seq: number): Windowed<string> => ({ seq, msg: undefined, done: false });

function given(...seqs: number[]) {
  const window = new AckWindow<string>();
  const entries = new Map(seqs.map((s) => [s, entry(s)]));
  for (const e of entries.values()) expect(window.add(e)).toBe(true);
  return { window, at: (seq: number) => entries.get(seq)! };
}

describe("AckWindow", () => {
  it("given events completed in order, then the floor follows each and the ack is the latest delivery", () => {
    const { window, at } = given(1, 2, 3);
    expect(window.complete(at(1))).toBe(true);
    expect(window.takeAck()).toBe("m1");
    expect(window.complete(at(2))).toBe(true);
    expect(window.complete(at(3))).toBe(true);
    // Two completions before the ack is sent: one ack, of the highest.
    expect(window.takeAck()).toBe("m3");
    expect(window.floor).toBe(3);
    expect(window.size).toBe(0);
  });

  it("given a later event completed first, then nothing is due until the gap below it is done", () => {
    const { window, at } = given(10, 11, 12);
    expect(window.complete(at(12))).toBe(false);
    expect(window.complete(at(11))).toBe(false);
    expect(window.floor).toBe(0);
    expect(window.takeAck()).toBeUndefined();
    expect(window.complete(at(10))).toBe(true);
    expect(window.takeAck()).toBe("m12");
    expect(window.floor).toBe(12);
  });

  it("given an event read from the stream (no delivery) at the top of the floor, then the ack is the highest delivered one under it", () => {
    const window = new AckWindow<string>();
    const delivered = entry(5);
    const read = readBack(6);
    window.add(delivered);
    window.add(read);
    window.complete(read);
    window.complete(delivered);
    expect(window.floor).toBe(6);
    expect(window.takeAck()).toBe("m5");
  });

  it("given only events read from the stream done, then no ack is due though the floor moved", () => {
    const window = new AckWindow<string>();
    const read = readBack(3);
    window.add(read);
    expect(window.complete(read)).toBe(false);
    expect(window.floor).toBe(3);
  });

  it("given an event filled in below the others (a new owner's stream read), then it is kept in sequence order", () => {
    const { window } = given(7, 9);
    window.add(entry(8));
    window.add(entry(2));
    expect(window.entries().map((e) => e.seq)).toEqual([2, 7, 8, 9]);
  });

  it("given a taken event delivered again while in flight, then it is acknowledged through the latest delivery", () => {
    const { window, at } = given(4);
    expect(window.redelivered(4, "m4-again")).toBe("taken");
    window.complete(at(4));
    expect(window.takeAck()).toBe("m4-again");
  });

  it("given a delivery at or under the floor or one never taken, then redelivered says so and adds nothing", () => {
    const { window, at } = given(1, 2);
    window.complete(at(1));
    expect(window.redelivered(1, "late")).toBe("under-floor");
    expect(window.redelivered(3, "new")).toBe("new");
    expect(window.size).toBe(1);
    expect(window.get(3)).toBeUndefined();
  });

  it("given a sequence under the floor or already taken, then add refuses it", () => {
    const { window, at } = given(1, 2);
    window.complete(at(1));
    expect(window.add(entry(1))).toBe(false);
    expect(window.add(entry(2))).toBe(false);
    expect(window.entries().map((e) => e.seq)).toEqual([2]);
  });

  it("given a new consumer (reset), then entries, floor and the pending ack are forgotten and the old deliveries detached", () => {
    const { window, at } = given(1, 2, 3);
    window.complete(at(1));
    window.reset();
    expect(window.floor).toBe(0);
    expect(window.size).toBe(0);
    expect(window.takeAck()).toBeUndefined();
    expect(at(2).msg).toBeUndefined();
    // Sequences number from scratch: a low one is new again.
    expect(window.add(entry(1))).toBe(true);
    // A detached entry of the old consumer that finishes later acknowledges nothing.
    window.complete(at(3));
    expect(window.takeAck()).toBeUndefined();
  });

  it("given a long run completed in reverse, then it goes under the floor at once when the lowest is done", () => {
    const seqs = Array.from({ length: 1_000 }, (_, i) => i + 1);
    const { window, at } = given(...seqs);
    for (const s of [...seqs].reverse().slice(0, -1)) expect(window.complete(at(s))).toBe(false);
    expect(window.complete(at(1))).toBe(true);
    expect(window.floor).toBe(1_000);
    expect(window.size).toBe(0);
    expect(window.takeAck()).toBe("m1000");
  });
});
