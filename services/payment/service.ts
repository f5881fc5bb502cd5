/** The payment service: charges an order once it exists, refunds it when shipping fails or an early cancel. */
import type { ServiceDefinition, Infra } from "../../host/service-definition.ts";
import { reactorHandlers } from "../../nats/order-reactor.ts";
import { assertNever } from "../../shared/events.ts";
import {
  chargeOutcome,
  decide,
  evolve,
  initialState,
  refundOutcome,
  settled,
  type PaymentCommand,
  type PaymentState,
} from "./domain/payment.ts";
import { createSimulatedProvider, type PaymentProvider } from "./provider.ts";

export interface PaymentRuntime {
  infra: Infra;
  provider: PaymentProvider;
}

export const paymentService: ServiceDefinition<PaymentRuntime> = {
  name: "payment",
  async setup(infra) {
    return { infra, provider: createSimulatedProvider(infra.config.paymentLimit) };
  },
  handlers(rt) {
    return reactorHandlers<PaymentState, PaymentCommand>({
      reactor: { initialState, evolve, decide, settled },
      read: (orderId) => rt.infra.history(orderId),
      async perform(command, { delivery }) {
        switch (command.kind) {
          case "charge": {
            // The order id is the provider's idempotency key: one charge per order, however often asked.
            const result = await rt.provider.charge({
              orderId: command.orderId,
              amount: command.amount,
              currency: command.currency,
              idempotencyKey: `charge-${command.orderId}`,
            });
            return rt.infra.publisher.publish(chargeOutcome(command, result), delivery.trace);
          }
          case "refund":
            await rt.provider.refund({
              paymentId: command.paymentId,
              amount: command.amount,
              currency: command.currency,
              idempotencyKey: `refund-${command.paymentId}`,
            });
            return rt.infra.publisher.publish(refundOutcome(command), delivery.trace);
          default:
            return assertNever(command);
        }
      },
    });
  },
};
