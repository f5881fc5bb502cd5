import { describe, expect, it } from "vitest";
import { deterministicUuid, isOrderId, isSiteName, isUserId, newOrderId, ORDER_ID_PATTERN, sha256Hex, siteOfOrderId } from "./ids.ts";

describe("deterministicUuid", () => {
  it("gives the ids every earlier version gave (the same event keeps its Nats-Msg-Id across upgrades)", () => {
    // Vectors from the hand-written SHA-256 this replaced.
    expect(deterministicUuid("orderstream-event", "0c0ffee0-0000-4000-8000-000000000001", "ORDER_CREATED")).toBe(
      "04c877ba-df89-8a88-800d-6f79594d3df7",
    );
    expect(deterministicUuid("payment", "charge-0c0ffee0-0000-4000-8000-000000000001")).toBe("20d8a00a-4dde-8eac-8b23-1126c1e5a977");
    expect(deterministicUuid("shipment", "0c0ffee0-0000-4000-8000-000000000001")).toBe("1e71132c-cd33-871f-86f3-13a587a17ebd");
    expect(deterministicUuid("refund", "refund-ünïcødé")).toBe("5993772f-feb7-8ece-a3f4-3f8881032220");
  });

  it("is a version-8, RFC 9562 variant UUID that the API accepts as an id", () => {
    const id = deterministicUuid("anything", "at all");
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(isOrderId(id)).toBe(true);
  });

  it("separates its parts: (a, bc) and (ab, c) differ", () => {
    expect(deterministicUuid("a", "bc")).not.toBe(deterministicUuid("ab", "c"));
  });
});

describe("sha256Hex", () => {
  it("matches the FIPS 180-4 vectors and the earlier implementation", () => {
    expect(sha256Hex("")).toBe("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    expect(sha256Hex("abc")).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    expect(sha256Hex("an Idempotency-Key")).toBe("edbd75cf70c0eda7040dcffb5cfc641b1551e1167105c1ce81521db60481f14c");
  });
});

describe("ids from users", () => {
  it("accepts issued order ids and subject-safe user ids only", () => {
    expect(isOrderId(newOrderId())).toBe(true);
    for (const bad of ["", "ABC", "0c0ffee0-0000-4000-8000-00000000000", "a.b", "*", ">"]) expect(isOrderId(bad), bad).toBe(false);
    expect(isUserId("user_1-A")).toBe(true);
    for (const bad of ["", "a.b", "*", "a b", "x".repeat(65)]) expect(isUserId(bad), bad).toBe(false);
  });
});

describe("a site's order ids", () => {
  const uuid = "0c0ffee0-0000-4000-8000-000000000001";

  it("given a site, when an id is issued, then it is <site>-<uuid>, accepted, and names its site", () => {
    const id = newOrderId("edge1");
    expect(id).toMatch(/^edge1-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(isOrderId(id)).toBe(true);
    expect(siteOfOrderId(id)).toBe("edge1");
    expect(new RegExp(ORDER_ID_PATTERN).test(id)).toBe(true);
    expect(siteOfOrderId(uuid)).toBeUndefined();
  });

  it("fits the 64 characters an event's ids may have with the longest site name", () => {
    const longest = "a".repeat(16);
    expect(isSiteName(longest)).toBe(true);
    expect(isSiteName("a".repeat(17))).toBe(false);
    expect(newOrderId(longest).length).toBeLessThanOrEqual(64);
  });

  it.each([
    `Edge1-${uuid}`,
    `edge.1-${uuid}`,
    `-${uuid}`,
    `edge1--${uuid}`,
    `edge1-${uuid.toUpperCase()}`,
    `edge1_${uuid}`,
    `*-${uuid}`,
    `edge1-${uuid}x`,
  ])("refuses %j", (bad) => {
    expect(isOrderId(bad)).toBe(false);
    expect(new RegExp(ORDER_ID_PATTERN).test(bad)).toBe(false);
  });

  it("takes site names that are a JetStream domain, a subject token and a consumer-name part at once", () => {
    for (const good of ["edge1", "store-12", "w", "berlin-north"]) expect(isSiteName(good), good).toBe(true);
    for (const bad of ["", "Edge1", "edge.1", "edge 1", "1edge", "edge-", "-edge", "edge_1", "edge*", "edge>"])
      expect(isSiteName(bad), bad).toBe(false);
  });
});
