/**
 * The payment provider port, and the simulated provider (it declines amounts above PAYMENT_LIMIT). A real provider
 * (Stripe, Adyen, …) implements the same interface; both calls carry an idempotency key so a retried
 * call after a crash charges or refunds at most once, as real providers' idempotency keys do.
 */
import { deterministicUuid } from "../../shared/ids.ts";
import type { ChargeResult } from "./domain/payment.ts";

export interface ChargeRequest {
  orderId: string;
  amount: number;
  currency: string;
  idempotencyKey: string;
}

export interface RefundRequest {
  paymentId: string;
  amount: number;
  currency: string;
  idempotencyKey: string;
}

export interface PaymentProvider {
  charge(request: ChargeRequest): Promise<ChargeResult>;
  refund(request: RefundRequest): Promise<{ refundId: string }>;
}

/**
 * Declines any amount above `limit` (PAYMENT_LIMIT); approves the rest. The same idempotency key
 * always yields the same payment id, like a provider that remembers its keys.
 */
export function createSimulatedProvider(limit: number): PaymentProvider {
  return {
    async charge({ amount, idempotencyKey }) {
      if (amount > limit) return { approved: false, reason: `amount ${amount} is above the payment limit ${limit}` };
      return { approved: true, paymentId: deterministicUuid("payment", idempotencyKey) };
    },
    async refund({ idempotencyKey }) {
      return { refundId: deterministicUuid("refund", idempotencyKey) };
    },
  };
}
