// The checked-in NATS auth config: generated, secret-free, and as narrow as intended. Whether the
// services really work with it (and what it refuses) is test/nats-auth.int.spec.ts.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { publishAllow, renderAuthConfig, subscribeAllow } from "./auth-config.ts";
import { BUCKETS, PUBLISHED_EVENT_TYPES, SERVICES, TRACE_KEEP_SUBJECT } from "../subjects.ts";

const AUTH_CONF = new URL("./nats-server.auth.conf", import.meta.url).pathname;

describe("nats/auth/nats-server.auth.conf", () => {
  it("is exactly what nats/auth/auth-config.ts renders (regenerate it after changing names)", () => {
    expect(readFileSync(AUTH_CONF, "utf8")).toBe(renderAuthConfig());
  });

  it("holds no password, only references to the server's environment", () => {
    const text = readFileSync(AUTH_CONF, "utf8");
    const passwords = [...text.matchAll(/password:\s*([^\s,}]+)/g)].map((m) => m[1]);
    expect(passwords).toEqual([
      "$ORDER_NATS_PASSWORD",
      "$PAYMENT_NATS_PASSWORD",
      "$SHIPPING_NATS_PASSWORD",
      "$NOTIFICATION_NATS_PASSWORD",
      "$LOYALTY_NATS_PASSWORD",
      "$ADMIN_NATS_PASSWORD",
    ]);
  });

  it("lets each service publish only its own event types and touch only its own consumers", () => {
    for (const service of SERVICES) {
      const allow = publishAllow(service);
      const others = SERVICES.filter((s) => s !== service);
      expect(allow.filter((s) => s.startsWith("orders.")).length, service).toBe(PUBLISHED_EVENT_TYPES[service].length);
      expect(allow.filter((s) => s.startsWith("orders.")).length, service).toBe(
        { order: 3, payment: 3, shipping: 2, notification: 0, loyalty: 0 }[service],
      );
      for (const other of others)
        expect(
          allow.filter((s) => s.includes(`${other}-p`)),
          `${service} → ${other}`,
        ).toEqual([]);
      // No wildcard over all ORDERS consumers, no destructive API, nothing broader than needed.
      expect(
        allow.filter((s) => /CONSUMER\.[A-Z.]+\.ORDERS\.\*|STREAM\.(DELETE|PURGE|UPDATE)|MSG\.DELETE\.ORDERS$|^>$|^\$JS\.API\.>$/.test(s)),
        service,
      ).toEqual([]);
      // Its inbox, and the kept traces' announcements (nats/trace-keeping.ts): nothing of another service.
      expect(subscribeAllow(service)).toEqual([`_INBOX_${service}.>`, TRACE_KEEP_SUBJECT]);
    }
  });

  it("gives the loyalty user its own bucket and ORDERS reads, and no write to ORDERS, NOTIFICATIONS or another's bucket", () => {
    const allow = publishAllow("loyalty");
    expect(allow).toContain(`$KV.${BUCKETS.loyaltyPoints}.>`);
    expect(allow).toContain("$JS.API.DIRECT.GET.ORDERS.>");
    expect(allow.filter((s) => /^(orders|notifications)\./.test(s))).toEqual([]);
    expect(allow.filter((s) => s.startsWith("$KV.") && !s.startsWith(`$KV.${BUCKETS.loyaltyPoints}.`))).toEqual([
      `$KV.${BUCKETS.instances}.loyalty.>`,
      `$KV.${BUCKETS.crashSuspects}.loyalty.>`,
    ]);
    expect(publishAllow("order")).not.toContain(`$KV.${BUCKETS.loyaltyPoints}.>`);
  });
});
