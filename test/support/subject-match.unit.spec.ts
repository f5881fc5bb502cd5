import { describe, expect, it } from "vitest";
import { subjectMatches } from "./subject-match.ts";

describe("subjectMatches", () => {
  it("given a literal filter, then only the same subject matches", () => {
    expect(subjectMatches("orders.1.o1.ORDER_CREATED", "orders.1.o1.ORDER_CREATED")).toBe(true);
    expect(subjectMatches("orders.1.o1.ORDER_CREATED", "orders.1.o1.PAYMENT_COMPLETED")).toBe(false);
    expect(subjectMatches("orders.1", "orders.1.o1")).toBe(false);
    expect(subjectMatches("orders.1.o1", "orders.1")).toBe(false);
  });

  it("given `*`, then it stands for exactly one token", () => {
    expect(subjectMatches("orders.*.*.ORDER_CREATED", "orders.7.o1.ORDER_CREATED")).toBe(true);
    expect(subjectMatches("orders.*.ORDER_CREATED", "orders.7.o1.ORDER_CREATED")).toBe(false);
    expect(subjectMatches("orders.*", "orders")).toBe(false);
  });

  it("given a final `>`, then it stands for one or more tokens, never none", () => {
    expect(subjectMatches("dlq.>", "dlq.payment-lane0.12")).toBe(true);
    expect(subjectMatches("dlq.>", "dlq.x")).toBe(true);
    expect(subjectMatches("dlq.>", "dlq")).toBe(false);
    expect(subjectMatches(">", "anything.at.all")).toBe(true);
  });
});
