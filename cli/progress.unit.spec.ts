/**
 * Progress of replay and rebuild-view: the line (done / total, events/s, ETA), the counts derived
 * from a pending count, and how often it is drawn — redrawn in place on a terminal, plain lines at
 * a bounded rate otherwise. Given a clock and a stream, when the run moves, then what is written.
 */
import { describe, expect, it } from "vitest";
import { createProgress, formatDuration, formatProgress, trackRemaining } from "./progress.ts";

describe("formatDuration", () => {
  it.each([
    [0, "0:00"],
    [7, "0:07"],
    [59.6, "1:00"],
    [754, "12:34"],
    [3723, "1:02:03"],
    [Infinity, "?"],
    [-1, "?"],
    [NaN, "?"],
  ])("given %s s, then %s", (seconds, text) => expect(formatDuration(seconds)).toBe(text));
});

describe("formatProgress", () => {
  it("given part done, then done / total, percent, the average rate and the time left at that rate", () => {
    expect(formatProgress("replay", { done: 12_345, total: 40_000, elapsedMs: 5_000 })).toBe(
      "replay: 12,345 / 40,000 events (30%), 2,469 events/s, ETA 0:11",
    );
  });

  it("given nothing done yet, then no rate and an unknown ETA", () => {
    expect(formatProgress("rebuild-view", { done: 0, total: 1_000_000, elapsedMs: 0 })).toBe(
      "rebuild-view: 0 / 1,000,000 events (0%), – events/s, ETA ?",
    );
  });

  it("given everything done, then 100% and how long it took instead of an ETA", () => {
    expect(formatProgress("rebuild-view", { done: 220_000, total: 220_000, elapsedMs: 2_000 })).toBe(
      "rebuild-view: 220,000 / 220,000 events (100%), 110,000 events/s, took 0:02",
    );
  });

  it("given an empty stream, then 0 / 0 is 100% done", () => {
    expect(formatProgress("rebuild-view", { done: 0, total: 0, elapsedMs: 10 })).toBe(
      "rebuild-view: 0 / 0 events (100%), – events/s, took 0:00",
    );
  });

  it("given 99.9% done, then it does not round up to 100%", () => {
    expect(formatProgress("replay", { done: 999, total: 1000, elapsedMs: 1000 })).toContain("(99%)");
  });
});

describe("trackRemaining", () => {
  it("given 100 to do, when 40 remain, then 60 are done of 100", () => {
    expect(trackRemaining({ done: 0, total: 100 }, 40)).toEqual({ done: 60, total: 100 });
  });

  it("given 60 of 100 done, when events arrive and 70 remain, then done stays and the total grows", () => {
    expect(trackRemaining({ done: 60, total: 100 }, 70)).toEqual({ done: 60, total: 130 });
  });

  it("given a run, when nothing remains, then done equals the total", () => {
    let counts = { done: 0, total: 50 };
    for (const left of [50, 30, 35, 10, 0]) counts = trackRemaining(counts, left);
    expect(counts).toEqual({ done: 55, total: 55 });
  });
});

/** A stream and a clock under the test's control. */
function setup(isTTY: boolean) {
  const writes: string[] = [];
  let t = 1_000;
  const progress = createProgress({
    out: { isTTY, write: (s: string) => writes.push(s) },
    label: "replay",
    now: () => t,
    ttyIntervalMs: 200,
    plainIntervalMs: 5_000,
  });
  return { writes, progress, advance: (ms: number) => (t += ms) };
}

describe("createProgress on a terminal", () => {
  it("redraws one line in place, at most every 200 ms, and ends the line when finished", () => {
    const { writes, progress, advance } = setup(true);
    progress.update(0, 1000);
    advance(100);
    progress.update(100, 1000); // too soon: not drawn
    advance(100);
    progress.update(200, 1000);
    advance(800);
    progress.finish(1000, 1000);
    expect(writes).toEqual([
      "\rreplay: 0 / 1,000 events (0%), – events/s, ETA ?\u001b[K",
      "\rreplay: 200 / 1,000 events (20%), 1,000 events/s, ETA 0:01\u001b[K",
      "\rreplay: 1,000 / 1,000 events (100%), 1,000 events/s, took 0:01\u001b[K\n",
    ]);
  });
});

describe("createProgress without a terminal", () => {
  it("prints plain lines: the first at once, then at most one per 5 s, and always the last", () => {
    const { writes, progress, advance } = setup(false);
    progress.update(0, 10_000);
    for (let i = 1; i <= 20; i++) {
      advance(500);
      progress.update(i * 400, 10_000);
    }
    advance(500);
    progress.finish(10_000, 10_000);
    expect(writes).toEqual([
      "replay: 0 / 10,000 events (0%), – events/s, ETA ?\n",
      "replay: 4,000 / 10,000 events (40%), 800 events/s, ETA 0:08\n",
      "replay: 8,000 / 10,000 events (80%), 800 events/s, ETA 0:03\n",
      "replay: 10,000 / 10,000 events (100%), 952 events/s, took 0:11\n",
    ]);
    // biome-ignore lint/suspicious/noControlCharactersInRegex: no carriage return, no escape sequence when not a terminal
    expect(writes.join("")).not.toMatch(/\r|\u001b/);
  });

  it("does not print the last line twice when it was just printed", () => {
    const { writes, progress } = setup(false);
    progress.update(5, 5);
    progress.finish(5, 5);
    expect(writes).toHaveLength(1);
  });
});
