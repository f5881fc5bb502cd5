import * as v from "valibot";
import { describe, expect, it } from "vitest";
import { CreateOrderBody } from "./http-schemas.ts";

/** The issues as the API reports them in a 422: `{ path, message }`. */
function issuesOf(body: unknown): Array<{ path: string; message: string }> {
  const result = v.safeParse(CreateOrderBody, body);
  return result.success ? [] : result.issues.map((issue) => ({ path: v.getDotPath(issue) ?? "", message: issue.message }));
}

function accepts(body: unknown) {
  const result = v.safeParse(CreateOrderBody, body);
  expect(result.success ? [] : issuesOf(body)).toEqual([]);
  return result.output as v.InferOutput<typeof CreateOrderBody>;
}

function rejectsAt(body: unknown, path: string, message?: RegExp): void {
  const issues = issuesOf(body);
  expect(issues.map((i) => i.path)).toContain(path);
  if (message) expect(issues.find((i) => i.path === path)?.message).toMatch(message);
}

const item = (sku: string, quantity: number, unitPrice: number) => ({ sku, quantity, unitPrice });

describe("CreateOrderBody", () => {
  describe("valid bodies", () => {
    it("accepts a body with every field given, unchanged", () => {
      const body = { userId: "abc", amount: 100.0, currency: "USD", items: [item("A-1", 1, 100.0)] };
      expect(accepts(body)).toEqual(body);
    });

    it("defaults currency to USD and items to []", () => {
      expect(accepts({ userId: "abc", amount: 5 })).toEqual({ userId: "abc", amount: 5, currency: "USD", items: [] });
    });

    it("keeps another currency", () => {
      expect(accepts({ userId: "abc", amount: 5, currency: "EUR" }).currency).toBe("EUR");
    });

    it("accepts a userId of 64 letters, digits, '_' and '-'", () => {
      accepts({ userId: `${"a".repeat(60)}_-9Z`, amount: 1 });
    });

    it("accepts the smallest and the largest amount, and two decimals", () => {
      accepts({ userId: "abc", amount: 0.01 });
      accepts({ userId: "abc", amount: 1_000_000_000 });
      accepts({ userId: "abc", amount: 999_999_999.99 });
      accepts({ userId: "abc", amount: 19.99 });
    });

    it("accepts two-decimal amounts above 2^27 (134,217,728) too", () => {
      // These are exactly representable-as-parsed two-decimal amounts within the API's range (at most 1,000,000,000).
      accepts({ userId: "abc", amount: 134_217_728.02 });
      accepts({ userId: "abc", amount: 559_315_054.06 });
      accepts({ userId: "abc", amount: 1_000_000_000, items: [item("A-1", 1, 134_777_015.11), item("B-2", 1, 865_222_984.89)] });
    });

    it("items must sum to the amount to the cent, without float noise: 3 × 0.1 = 0.3", () => {
      accepts({ userId: "abc", amount: 0.3, items: [item("A-1", 3, 0.1)] });
      accepts({ userId: "abc", amount: 0.3, items: [item("A-1", 1, 0.1), item("B-2", 1, 0.2)] });
      accepts({ userId: "abc", amount: 100.05, items: [item("A-1", 3, 33.35)] });
    });

    it("accepts free items (unitPrice 0) when the sum still matches", () => {
      accepts({ userId: "abc", amount: 10, items: [item("A-1", 1, 10), item("GIFT", 1, 0)] });
    });
  });

  describe("amount", () => {
    it.each([
      [0, /greater than 0/],
      [-1, /greater than 0/],
      [-0.01, /greater than 0/],
      [1.001, /2 decimal places/],
      [0.005, /2 decimal places/],
      [1_000_000_000.01, /at most 1,000,000,000/],
      [2e9, /at most 1,000,000,000/],
    ])("rejects %s at path amount", (amount, message) => {
      rejectsAt({ userId: "abc", amount }, "amount", message);
    });

    it("rejects a string, a missing amount", () => {
      rejectsAt({ userId: "abc", amount: "100" }, "amount");
      rejectsAt({ userId: "abc" }, "amount");
    });

    it("rejects an amount that differs from the items' sum by a cent, at path amount", () => {
      rejectsAt({ userId: "abc", amount: 0.31, items: [item("A-1", 3, 0.1)] }, "amount", /sum of quantity × unitPrice/);
      rejectsAt({ userId: "abc", amount: 99.99, items: [item("A-1", 1, 100)] }, "amount", /sum/);
    });
  });

  describe("other fields", () => {
    it.each(["", "a.b", "a b", "a*", "x".repeat(65)])("rejects userId %j", (userId) => {
      rejectsAt({ userId, amount: 1 }, "userId");
    });

    it.each(["usd", "US", "USDX", "€€€"])("rejects currency %j", (currency) => {
      rejectsAt({ userId: "abc", amount: 1, currency }, "currency", /three capital letters/);
    });

    it("rejects bad items with the item's path", () => {
      rejectsAt({ userId: "abc", amount: 1, items: [item("", 1, 1)] }, "items.0.sku");
      rejectsAt({ userId: "abc", amount: 1, items: [item("A 1", 1, 1)] }, "items.0.sku");
      rejectsAt({ userId: "abc", amount: 2, items: [item("A-1", 1, 1), item("B-2", 0, 1)] }, "items.1.quantity");
      rejectsAt({ userId: "abc", amount: 1.5, items: [item("A-1", 1.5, 1)] }, "items.0.quantity");
      rejectsAt({ userId: "abc", amount: 1, items: [item("A-1", 1, -1)] }, "items.0.unitPrice");
      rejectsAt({ userId: "abc", amount: 1, items: [item("A-1", 1, 0.001)] }, "items.0.unitPrice");
      rejectsAt({ userId: "abc", amount: 1, items: "A-1" }, "items");
    });

    it("rejects more than 500 items", () => {
      rejectsAt({ userId: "abc", amount: 501, items: Array.from({ length: 501 }, (_, i) => item(`S-${i}`, 1, 1)) }, "items");
    });

    it("rejects a body that is not an object at the root", () => {
      for (const body of [null, "order", 42, true]) expect(issuesOf(body)).toEqual([{ path: "", message: "must be a JSON object" }]);
    });

    it("rejects an array body at the root, as not an object", () => {
      expect(issuesOf([])).toEqual([{ path: "", message: "must be a JSON object" }]);
    });

    it("reports a missing field at its path as missing, not as 'must be a JSON object'", () => {
      const issues = issuesOf({ userId: "abc" });
      expect(issues.map((i) => i.path)).toEqual(["amount"]);
      expect(issues[0]?.message).not.toMatch(/JSON object/);
    });
  });
});
