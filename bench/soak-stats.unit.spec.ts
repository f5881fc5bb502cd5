/**
 * `npm run bench:soak`'s verdicts (bench/soak-stats.ts): a line through the samples, and the words
 * flat / bounded / growing, drained, steady that summarise each series of the soak.
 */
import { describe, expect, it } from "vitest";
import { backlogVerdict, everyNth, halves, levelVerdict, linearFit, metricSum, ratioVerdict, type Point } from "./soak-stats.ts";

/** One sample every half minute for `minutes`, valued by `f(minute)`. */
const series = (minutes: number, f: (min: number) => number): Point[] =>
  Array.from({ length: minutes * 2 + 1 }, (_, i) => ({ min: i / 2, value: f(i / 2) }));

describe("linearFit", () => {
  it("given points on a line, then its slope and intercept", () => {
    const fit = linearFit(series(10, (m) => 100 + 2.5 * m));
    expect(fit.slope).toBeCloseTo(2.5, 10);
    expect(fit.intercept).toBeCloseTo(100, 10);
    expect(fit.points).toBe(21);
  });

  it("given noise around a level, then a slope near zero", () => {
    const fit = linearFit(series(20, (m) => 100 + (Math.round(m * 2) % 2 === 0 ? 1 : -1)));
    expect(Math.abs(fit.slope)).toBeLessThan(0.01);
  });

  it("given fewer than two usable points, then no slope", () => {
    expect(linearFit([{ min: 1, value: 5 }]).slope).toBeNaN();
    expect(
      linearFit([
        { min: 1, value: 5 },
        { min: 1, value: 7 },
      ]).slope,
    ).toBeNaN();
    expect(
      linearFit([
        { min: 0, value: 5 },
        { min: 1, value: Number.NaN },
      ]).points,
    ).toBe(1);
  });
});

describe("halves", () => {
  it("splits by time, the middle point in the second half", () => {
    const { first, second } = halves(series(2, (m) => m));
    expect(first.map((p) => p.min)).toEqual([0, 0.5]);
    expect(second.map((p) => p.min)).toEqual([1, 1.5, 2]);
  });
});

describe("levelVerdict", () => {
  it("given RSS that settles after a warm-up, then flat", () => {
    const v = levelVerdict(
      series(20, (m) => (m < 3 ? 100 + 10 * m : 130 + (m % 1 === 0 ? 0.5 : -0.5))),
      3,
    );
    expect(v.verdict).toBe("flat");
    expect(v.firstHalfMax).toBe(130.5);
  });

  it("given a level that climbs in the second half but stays under the first half's peak, then bounded", () => {
    // A collection at minute 10 after a peak of 130, then a climb of 1.5 MiB/min back towards it.
    const v = levelVerdict(
      series(20, (m) => (m < 10 ? 100 + 3 * m : 110 + 1.5 * (m - 10))),
      3,
    );
    expect(v.verdict).toBe("bounded");
    expect(v.secondHalfMax).toBeLessThanOrEqual(v.firstHalfMax + 3);
  });

  it("given a steady climb of 1 MiB/min, then growing with that slope", () => {
    const v = levelVerdict(
      series(20, (m) => 100 + m),
      3,
    );
    expect(v.verdict).toBe("growing");
    expect(v.secondHalfSlope).toBeCloseTo(1, 10);
    expect(v.last).toBe(120);
  });

  it("given a level that rose above the first half's peak and falls back, then bounded", () => {
    const v = levelVerdict(
      series(20, (m) => (m < 10 ? 100 : 130 - 2 * (m - 10))),
      3,
    );
    expect(v.verdict).toBe("bounded");
    expect(v.secondHalfSlope).toBeLessThan(0);
  });

  it("given too few samples, then too short", () => {
    expect(levelVerdict([{ min: 0, value: 1 }], 3).verdict).toBe("too short");
    expect(levelVerdict([], 3).verdict).toBe("too short");
  });
});

describe("backlogVerdict", () => {
  it("given a backlog under load that is gone after the drain, then drained with its peak", () => {
    const points = [...series(10, (m) => (m === 5 ? 400 : 20)), { min: 10.5, value: 0 }];
    expect(backlogVerdict(points, 10)).toEqual({ verdict: "drained", maxUnderLoad: 400, last: 0 });
  });

  it("given a backlog left after the drain wait, then not drained", () => {
    const points = [...series(10, () => 50), { min: 11, value: 12 }];
    expect(backlogVerdict(points, 10).verdict).toBe("not drained");
    expect(backlogVerdict(points, 10, 20).verdict).toBe("drained");
  });
});

describe("ratioVerdict", () => {
  it("given bytes that grow linearly with orders, then steady at bytes per order", () => {
    const orders = series(20, (m) => 160 * 60 * m);
    const bytes = series(20, (m) => 160 * 60 * m * 1_750 + 10_000);
    const v = ratioVerdict(bytes, orders);
    expect(v.verdict).toBe("steady");
    expect(v.mean).toBeGreaterThan(1_750);
    expect(v.mean).toBeLessThan(1_751);
  });

  it("given bytes that grow faster than orders, then drifting", () => {
    const orders = series(20, (m) => 1_000 * m);
    const bytes = series(20, (m) => 1_000 * m * (500 + 50 * m));
    expect(ratioVerdict(bytes, orders).verdict).toBe("drifting");
  });

  it("leaves out samples with no orders yet, and says when too few remain", () => {
    const orders = [
      { min: 0, value: 0 },
      { min: 1, value: 10 },
    ];
    const bytes = [
      { min: 0, value: 5 },
      { min: 1, value: 100 },
    ];
    expect(ratioVerdict(bytes, orders).verdict).toBe("too short");
  });
});

describe("everyNth", () => {
  it("keeps every nth sample and always the last", () => {
    expect(everyNth([0, 1, 2, 3, 4, 5, 6], 3)).toEqual([0, 3, 6]);
    expect(everyNth([0, 1, 2, 3, 4, 5], 4)).toEqual([0, 4, 5]);
    expect(everyNth([0, 1], 1)).toEqual([0, 1]);
  });
});

describe("metricSum", () => {
  const text = [
    "# HELP orderstream_events_published_total Order events published",
    "# TYPE orderstream_events_published_total counter",
    'orderstream_events_published_total{event_type="ORDER_CREATED",result="new"} 120',
    'orderstream_events_published_total{event_type="ORDER_CREATED",result="duplicate"} 3',
    'orderstream_events_published_total{event_type="SHIPPING_READY",result="new"} 118',
    "process_resident_memory_bytes 104857600",
    "process_resident_memory_bytes_peak 1",
    "nodejs_eventloop_lag_p99_seconds 0.0125",
  ].join("\n");

  it("given labels, then the sum of the matching samples only", () => {
    expect(metricSum(text, "orderstream_events_published_total", { event_type: "ORDER_CREATED", result: "new" })).toBe(120);
    expect(metricSum(text, "orderstream_events_published_total", { event_type: "ORDER_CREATED" })).toBe(123);
    expect(metricSum(text, "orderstream_events_published_total")).toBe(241);
  });

  it("given a name that is a prefix of another, then only the exact name", () => {
    expect(metricSum(text, "process_resident_memory_bytes")).toBe(104_857_600);
    expect(metricSum(text, "nodejs_eventloop_lag_p99_seconds")).toBe(0.0125);
  });

  it("given a metric that is not there, then NaN rather than 0", () => {
    expect(metricSum(text, "orderstream_nothing_total")).toBeNaN();
    expect(metricSum(text, "orderstream_events_published_total", { event_type: "ORDER_CANCELLED" })).toBeNaN();
  });
});
