/**
 * Loyalty points, the pure core: one point per whole currency unit of a completed payment, taken
 * back when the payment is refunded. State is one account per user: its points, and per order the
 * points it earned and the ORDERS stream sequences of the payment events applied to it.
 *
 * Exactly once: the account itself records what was applied, so `decide` answers nothing for an
 * event it has seen (a redelivery, a replay from sequence 1, a dead letter retried): an order earns
 * once and is taken back once. A refund seen before its payment (the payment dead-lettered, retried
 * later) marks the order refunded with nothing to take back, and the payment then earns nothing.
 */
import { assertNever, type OrderEvent } from "../../../shared/events.ts";

/** What one order did to an account. */
export interface OrderPoints {
  /** Points the order earned (0 when its refund came first). */
  points: number;
  /** ORDERS sequence of the PAYMENT_COMPLETED applied, absent when its refund came first. */
  earnedSeq?: number;
  /** ORDERS sequence of the PAYMENT_REFUNDED applied, once it is. */
  revokedSeq?: number;
}

export interface LoyaltyAccount {
  userId: string;
  points: number;
  orders: Record<string, OrderPoints>;
}

/** What a payment event does to an account: the core's decisions, folded by `evolve`. */
export type LoyaltyChange =
  | { type: "POINTS_EARNED"; orderId: string; seq: number; points: number }
  | { type: "POINTS_REVOKED"; orderId: string; seq: number; points: number };

/** What GET /users/{userId}/points answers. */
export interface PointsSummary {
  userId: string;
  points: number;
  /** Orders whose points the user holds: paid and not refunded. */
  orders: number;
}

export function initialAccount(userId: string): LoyaltyAccount {
  return { userId, points: 0, orders: {} };
}

/**
 * Points for an amount: its whole currency units. Amounts have at most two decimals, so the
 * cents are an integer and the division is exact (99.99 → 99, 100 → 100).
 * @example pointsFor(149.99) // 149
 */
export function pointsFor(amount: number): number {
  const cents = Math.round(amount * 100);
  return (cents - (cents % 100)) / 100;
}

/** What applying `event` (at ORDERS sequence `seq`) does to `account`: nothing when it was applied before. */
export function decide(account: LoyaltyAccount, event: OrderEvent, seq: number): LoyaltyChange[] {
  if (event.userId !== account.userId) {
    throw new Error(`event ${event.eventId} is of user ${event.userId}, not of the account's user ${account.userId}`);
  }
  const order = Object.hasOwn(account.orders, event.orderId) ? account.orders[event.orderId] : undefined;
  switch (event.eventType) {
    case "PAYMENT_COMPLETED":
      // Earned before, or refunded before it came: either way, nothing more.
      if (order) return [];
      return [{ type: "POINTS_EARNED", orderId: event.orderId, seq, points: pointsFor(event.amount) }];
    case "PAYMENT_REFUNDED":
      if (order?.revokedSeq !== undefined) return [];
      return [{ type: "POINTS_REVOKED", orderId: event.orderId, seq, points: order?.points ?? 0 }];
    case "ORDER_CREATED":
    case "PAYMENT_FAILED":
    case "SHIPPING_READY":
    case "SHIPPING_FAILED":
    case "ORDER_CANCEL_REQUESTED":
    case "ORDER_CANCELLED":
      // Not a payment that moved money: no points either way.
      return [];
    default:
      return assertNever(event);
  }
}

export function evolve(account: LoyaltyAccount, change: LoyaltyChange): LoyaltyAccount {
  const order = Object.hasOwn(account.orders, change.orderId) ? account.orders[change.orderId] : undefined;
  switch (change.type) {
    case "POINTS_EARNED":
      return {
        ...account,
        points: account.points + change.points,
        orders: { ...account.orders, [change.orderId]: { points: change.points, earnedSeq: change.seq } },
      };
    case "POINTS_REVOKED":
      return {
        ...account,
        points: account.points - change.points,
        orders: { ...account.orders, [change.orderId]: { ...(order ?? { points: 0 }), revokedSeq: change.seq } },
      };
    default:
      return assertNever(change);
  }
}

/** The account after `event`: `decide`, then `evolve` with each change (the same account when nothing changes). */
export function apply(account: LoyaltyAccount, event: OrderEvent, seq: number): LoyaltyAccount {
  return decide(account, event, seq).reduce(evolve, account);
}

export function summary(account: LoyaltyAccount): PointsSummary {
  const held = Object.values(account.orders).filter((o) => o.earnedSeq !== undefined && o.revokedSeq === undefined).length;
  return { userId: account.userId, points: account.points, orders: held };
}
