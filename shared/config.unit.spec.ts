/** The store and crash-loop settings of shared/config.ts: sizes, durations and their errors. */
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "./config.ts";

const load = (env: Record<string, string>) => loadConfig("order", env);

describe("store and crash-loop settings", () => {
  it("given nothing, then ORDERS is unlimited, notifications age out after 30 days, 3 crashes, default compression", () => {
    const c = load({});
    expect(c.ordersMaxBytes).toBe(-1);
    expect(c.notificationsMaxAgeMs).toBe(30 * 86_400_000);
    expect(c.crashLimit).toBe(3);
    expect(c.streamCompression).toBeUndefined();
  });

  it("given sizes and durations with units, then bytes and milliseconds", () => {
    expect(load({ ORDERS_MAX_BYTES: "512M" }).ordersMaxBytes).toBe(512 * 1024 ** 2);
    expect(load({ ORDERS_MAX_BYTES: "10GiB" }).ordersMaxBytes).toBe(10 * 1024 ** 3);
    expect(load({ ORDERS_MAX_BYTES: "1048576" }).ordersMaxBytes).toBe(1_048_576);
    expect(load({ ORDERS_MAX_BYTES: "0" }).ordersMaxBytes).toBe(-1);
    expect(load({ NOTIFICATIONS_MAX_AGE: "12h" }).notificationsMaxAgeMs).toBe(12 * 3_600_000);
    expect(load({ NOTIFICATIONS_MAX_AGE: "90" }).notificationsMaxAgeMs).toBe(90_000);
    expect(load({ NOTIFICATIONS_MAX_AGE: "0" }).notificationsMaxAgeMs).toBe(0);
    expect(load({ STREAM_COMPRESSION: "None" }).streamCompression).toBe("none");
    expect(load({ CRASH_LIMIT: "5" }).crashLimit).toBe(5);
    expect(load({}).lanes).toBe(4);
    expect(load({ LANES: "2" }).lanes).toBe(2);
  });

  it("given values it cannot use, then a ConfigError naming the variable", () => {
    expect(() => load({ ORDERS_MAX_BYTES: "lots" })).toThrow(
      new ConfigError("ORDERS_MAX_BYTES=lots is not valid: a size such as 512M or 10G (or -1 for no limit)"),
    );
    expect(() => load({ NOTIFICATIONS_MAX_AGE: "1 week" })).toThrow(/NOTIFICATIONS_MAX_AGE=1 week is not valid/);
    expect(() => load({ STREAM_COMPRESSION: "zstd" })).toThrow(/STREAM_COMPRESSION=zstd is not valid: s2 or none/);
    expect(() => load({ CRASH_LIMIT: "0" })).toThrow(/CRASH_LIMIT=0 is not valid/);
    // A lane count must divide the 16 partitions.
    expect(() => load({ LANES: "3" })).toThrow(new ConfigError("LANES=3 is not valid: one of 1, 2, 4, 8, 16"));
  });
});
