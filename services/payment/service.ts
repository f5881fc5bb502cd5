/** The payment service: charges on ORDER_CREATED, refunds on SHIPPING_FAILED or an early cancel. */
import type { ServiceDefinition, Infra } from "../../shared/service-host.ts";
import { ensureBucket } from "../../nats/setup.ts";
import { bucketOptions } from "../../nats/definitions.ts";
import { BUCKETS } from "../../nats/subjects.ts";
import { createOrderStateStore, statefulHandler, type OrderStateStore } from "../../nats/order-state.ts";
import { assertNever } from "../../shared/events.ts";
import { chargeOutcome, decide, evolve, initialState, refundOutcome, type PaymentCommand, type PaymentState } from "./domain/payment.ts";
import { createSimulatedProvider, type PaymentProvider } from "./provider.ts";

export interface PaymentRuntime {
  infra: Infra;
  store: OrderStateStore<PaymentState>;
  provider: PaymentProvider;
}

export const paymentService: ServiceDefinition<PaymentRuntime> = {
  relevant: new Set(["ORDER_CREATED", "PAYMENT_COMPLETED", "PAYMENT_FAILED", "ORDER_CANCEL_REQUESTED", "SHIPPING_FAILED", "PAYMENT_REFUNDED"]),
  async setup(infra) {
    const kv = await ensureBucket(infra.nc, infra.jsm, BUCKETS.paymentState, bucketOptions.state);
    return { infra, store: createOrderStateStore<PaymentState>(kv), provider: createSimulatedProvider(infra.config.paymentLimit) };
  },
  handler(rt) {
    return statefulHandler<PaymentState, PaymentCommand>(
      {
        initialState,
        evolve: (state, event) => evolve(state, event),
        decide,
        async perform(command, _event, delivery) {
          switch (command.kind) {
            case "charge": {
              // The order id is the provider's idempotency key: one charge per order, however often asked.
              const result = await rt.provider.charge({
                orderId: command.orderId,
                amount: command.amount,
                currency: command.currency,
                idempotencyKey: `charge-${command.orderId}`,
              });
              await rt.infra.publisher.publish(chargeOutcome(command, result), delivery.trace);
              break;
            }
            case "refund":
              await rt.provider.refund({
                paymentId: command.paymentId,
                amount: command.amount,
                currency: command.currency,
                idempotencyKey: `refund-${command.paymentId}`,
              });
              await rt.infra.publisher.publish(refundOutcome(command), delivery.trace);
              break;
            default:
              assertNever(command);
          }
        },
      },
      rt.store,
    );
  },
};
