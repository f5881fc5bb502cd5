import { describe, expect, it } from "vitest";
import type { OrderEvent } from "../../../shared/events.ts";
import { anEvent, DeciderSpec, USER_ID } from "../../../shared/testing/decider-spec.ts";
import { apply, decide, evolve, initialAccount, pointsFor, summary, type LoyaltyAccount } from "./points.ts";

// Stream sequences of the given events: each event's place in the ORDERS stream of the scenario.
const SEQ = new Map<string, number>();
const at = <E extends OrderEvent>(seq: number, event: E): E => {
  SEQ.set(event.eventId, seq);
  return event;
};
const seqOf = (event: OrderEvent) => SEQ.get(event.eventId) ?? 0;

const spec = DeciderSpec.for({
  initialState: () => initialAccount(USER_ID),
  evolve: (account: LoyaltyAccount, event: OrderEvent) => apply(account, event, seqOf(event)),
  decide: (account: LoyaltyAccount, input: { event: OrderEvent; seq: number }) => decide(account, input.event, input.seq),
});

const paid = (orderId: string, amount: number) => anEvent("PAYMENT_COMPLETED", { orderId, amount, paymentId: `pay-${orderId}` });
const refunded = (orderId: string, amount: number) => anEvent("PAYMENT_REFUNDED", { orderId, amount, paymentId: `pay-${orderId}` });

describe("pointsFor", () => {
  it.each([
    [100, 100],
    [99.99, 99],
    [0.5, 0],
    [149.99, 149],
    [1_000_000_000, 1_000_000_000],
    [4.35, 4],
  ])("%d → %d points (whole currency units)", (amount, points) => {
    expect(pointsFor(amount)).toBe(points);
  });
});

describe("the loyalty decider", () => {
  it("earns one point per whole currency unit of a completed payment", () => {
    spec
      .given([])
      .when({ event: paid("o-1", 120.75), seq: 7 })
      .then([{ type: "POINTS_EARNED", orderId: "o-1", seq: 7, points: 120 }]);
  });

  it("earns nothing for an order's payment applied before (a redelivery or a replay)", () => {
    spec
      .given([at(7, paid("o-1", 120.75))])
      .when({ event: paid("o-1", 120.75), seq: 7 })
      .thenNothing();
  });

  it("takes back what the order earned when its payment is refunded", () => {
    spec
      .given([at(3, paid("o-1", 80)), at(4, paid("o-2", 30))])
      .when({ event: refunded("o-1", 80), seq: 9 })
      .then([{ type: "POINTS_REVOKED", orderId: "o-1", seq: 9, points: 80 }]);
  });

  it("takes back a refund once", () => {
    spec
      .given([at(3, paid("o-1", 80)), at(9, refunded("o-1", 80))])
      .when({ event: refunded("o-1", 80), seq: 9 })
      .thenNothing();
  });

  it("earns nothing for a payment whose refund came first, and takes nothing back for it", () => {
    spec
      .given([at(9, refunded("o-1", 80))])
      .when({ event: paid("o-1", 80), seq: 3 })
      .thenNothing();
    spec
      .given([])
      .when({ event: refunded("o-1", 80), seq: 9 })
      .then([{ type: "POINTS_REVOKED", orderId: "o-1", seq: 9, points: 0 }]);
  });

  it.each(["ORDER_CREATED", "PAYMENT_FAILED", "SHIPPING_READY", "SHIPPING_FAILED", "ORDER_CANCEL_REQUESTED", "ORDER_CANCELLED"] as const)(
    "ignores %s: no money moved",
    (type) => {
      spec
        .given([at(3, paid("order-1", 50))])
        .when({ event: anEvent(type), seq: 10 })
        .thenNothing();
    },
  );

  it("refuses an event of another user's order (the adapter keys accounts by the event's user)", () => {
    spec
      .given([])
      .when({ event: { ...paid("o-1", 10), userId: "someone-else" }, seq: 1 })
      .thenThrows(/not of the account's user/);
  });

  it("keeps per order the points and the stream sequences applied, and sums the points", () => {
    spec.given([at(3, paid("o-1", 80)), at(4, paid("o-2", 30.5)), at(9, refunded("o-1", 80))]).thenState({
      userId: USER_ID,
      points: 30,
      orders: { "o-1": { points: 80, earnedSeq: 3, revokedSeq: 9 }, "o-2": { points: 30, earnedSeq: 4 } },
    });
  });

  it("folds to the same account whatever the redeliveries and replays in between", () => {
    const history = [at(3, paid("o-1", 80)), at(4, paid("o-2", 30.5)), at(9, refunded("o-1", 80))];
    const once = history.reduce((a, e) => apply(a, e, seqOf(e)), initialAccount(USER_ID));
    const replayed = [...history, ...history, history[0]!, history[2]!].reduce((a, e) => apply(a, e, seqOf(e)), initialAccount(USER_ID));
    expect(replayed).toEqual(once);
  });
});

describe("summary", () => {
  it("counts the orders whose points the user holds: paid, not refunded", () => {
    const account = [at(3, paid("o-1", 80)), at(4, paid("o-2", 30)), at(9, refunded("o-1", 80)), at(11, refunded("o-3", 5))].reduce(
      (a, e) => apply(a, e, seqOf(e)),
      initialAccount(USER_ID),
    );
    expect(summary(account)).toEqual({ userId: USER_ID, points: 30, orders: 1 });
  });

  it("of a user never paid: zero points, zero orders", () => {
    expect(summary(initialAccount("nobody"))).toEqual({ userId: "nobody", points: 0, orders: 0 });
  });

  it("evolve leaves its input as it was", () => {
    const before = initialAccount(USER_ID);
    const copy = structuredClone(before);
    evolve(before, { type: "POINTS_EARNED", orderId: "o-1", seq: 1, points: 5 });
    expect(before).toEqual(copy);
  });
});
