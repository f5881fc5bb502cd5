/**
 * npm start's nats-server config: JetStream fsyncs before every acknowledgement unless
 * NATS_SYNC_INTERVAL says otherwise, and a value nats-server would refuse (or read differently from
 * what was meant) stops npm start with a message naming the variable and what to write instead.
 */
import { describe, expect, it } from "vitest";
import { DEFAULT_SYNC_INTERVAL, includePath, localNatsConfig, SyncIntervalError, syncIntervalFrom } from "./local-nats-config.ts";

describe("npm start's sync_interval", () => {
  it("given no NATS_SYNC_INTERVAL (or a blank one), then always: an fsync before every PubAck", () => {
    expect(DEFAULT_SYNC_INTERVAL).toBe("always");
    expect(syncIntervalFrom({})).toBe("always");
    expect(syncIntervalFrom({ NATS_SYNC_INTERVAL: "  " })).toBe("always");
  });

  it("given NATS_SYNC_INTERVAL, then that setting, as nats-server reads it", () => {
    expect(syncIntervalFrom({ NATS_SYNC_INTERVAL: "1s" })).toBe("1s");
    expect(syncIntervalFrom({ NATS_SYNC_INTERVAL: " 100ms " })).toBe("100ms");
    expect(syncIntervalFrom({ NATS_SYNC_INTERVAL: "2m" })).toBe("2m");
    expect(syncIntervalFrom({ NATS_SYNC_INTERVAL: "1m30s" })).toBe("1m30s");
    expect(syncIntervalFrom({ NATS_SYNC_INTERVAL: "1.5s" })).toBe("1.5s");
    expect(syncIntervalFrom({ NATS_SYNC_INTERVAL: "ALWAYS" })).toBe("always");
  });

  it.each([
    ["fast", /is not a duration/],
    ["-1s", /is not a duration/],
    ["1 s", /is not a duration/],
    ["1sec", /is not a duration/],
    ["always;", /is not a duration/],
    ["5", /has no unit/],
    ["0s", /shorter than 1ms/],
    ["500us", /shorter than 1ms/],
  ])("given NATS_SYNC_INTERVAL=%s, then a SyncIntervalError naming the variable and what to give", (value, why) => {
    const read = () => syncIntervalFrom({ NATS_SYNC_INTERVAL: value });
    expect(read).toThrow(SyncIntervalError);
    expect(read).toThrow(why);
    expect(read).toThrow(`NATS_SYNC_INTERVAL=${value} `);
    expect(read).toThrow(/"always" .* or a duration such as 100ms, 1s or 2m/);
  });
});

describe("npm start's server config", () => {
  it("given the chosen setting, then the config's jetstream block carries it", () => {
    const text = localNatsConfig({ syncInterval: syncIntervalFrom({}) });
    expect(text).toMatch(/^jetstream \{\n {2}sync_interval: always\n\}$/m);
    expect(text).not.toMatch(/include/);
  });

  it("given NATS_SYNC_INTERVAL, then the config carries that instead", () => {
    expect(localNatsConfig({ syncInterval: syncIntervalFrom({ NATS_SYNC_INTERVAL: "1s" }) })).toMatch(/^ {2}sync_interval: 1s$/m);
  });

  it("given auth, then the auth config is included before the jetstream block (the later key wins)", () => {
    const text = localNatsConfig({ syncInterval: "always", include: "../../nats/auth/nats-server.auth.conf" });
    const include = text.indexOf('include "../../nats/auth/nats-server.auth.conf"');
    expect(include).toBeGreaterThanOrEqual(0);
    expect(include).toBeLessThan(text.indexOf("jetstream {"));
  });

  it("names the included file relative to the config's folder, where nats-server resolves it", () => {
    expect(includePath("/home/me/orderstream/.data/nats/server.conf", "/home/me/orderstream/nats/auth/nats-server.auth.conf")).toBe(
      "../../nats/auth/nats-server.auth.conf",
    );
    expect(includePath("/tmp/elsewhere/nats/server.conf", "/home/me/orderstream/nats/auth/nats-server.auth.conf")).toBe(
      "../../../home/me/orderstream/nats/auth/nats-server.auth.conf",
    );
  });
});
