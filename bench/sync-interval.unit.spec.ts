/**
 * `npm run bench -- --sync`: which settings it compares (the default always first, as the base of
 * every ratio; each named one checked as npm start checks NATS_SYNC_INTERVAL) and the median it
 * reports over the rounds.
 */
import { describe, expect, it } from "vitest";
import { SyncIntervalError } from "../scripts/local-nats-config.ts";
import { DEFAULT_SYNC_SETTINGS, median, parseSyncSettings, settingLabel } from "./sync-interval.ts";

describe("--sync-settings", () => {
  it("given none, then the default, 1s, 100ms and always", () => {
    expect(parseSyncSettings(undefined)).toEqual([null, "1s", "100ms", "always"]);
    expect(parseSyncSettings(undefined)).toEqual([...DEFAULT_SYNC_SETTINGS]);
  });

  it("given a list, then the default first and each named setting once", () => {
    expect(parseSyncSettings("always,1s")).toEqual([null, "always", "1s"]);
    expect(parseSyncSettings("default, ALWAYS ,always")).toEqual([null, "always"]);
  });

  it("given a setting npm start would refuse, then the same error", () => {
    expect(() => parseSyncSettings("1s,sometimes")).toThrow(SyncIntervalError);
    expect(() => parseSyncSettings("5")).toThrow(/NATS_SYNC_INTERVAL=5 has no unit/);
  });

  it("names the default by what it is", () => {
    expect(settingLabel(null)).toBe("default (2m)");
    expect(settingLabel("always")).toBe("always");
  });
});

describe("median over the rounds", () => {
  it("given an odd or even count, then the middle value or the mean of the two middle ones; NaN rounds left out", () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([0.5, Number.NaN, 0.37])).toBeCloseTo(0.435);
    expect(median([])).toBeNaN();
  });
});
