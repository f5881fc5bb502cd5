/**
 * Keeps the traces of slow orders under the outcome sampling policy (otel/outcome-sampling.ts):
 * wraps a service's handlers so that each event handed to them is shown to a SlowOrderJudge
 * (otel/slow-orders.ts), and an order it finds slow has its trace kept in every service. Only a
 * service that handles both ORDER_CREATED and SHIPPING_READY can time an order (see
 * `timesOrders`); the notification service does.
 */
import type { HandlerFactory } from "../nats/delivery.ts";
import { traceIdOf } from "../nats/order-history.ts";
import { keepTrace } from "../otel/outcome-sampling.ts";
import { SlowOrderJudge } from "../otel/slow-orders.ts";
import type { EventType } from "../shared/events.ts";

/** Whether a service that consumes these event types sees an order's start and end. */
export function timesOrders(consumes: readonly EventType[]): boolean {
  return consumes.includes("ORDER_CREATED") && consumes.includes("SHIPPING_READY");
}

/**
 * The handlers, each event judged as it is handed over; one judge for all of the process's lanes.
 * Judged before it is handled, not after: the judge reads only the events' times, and no async
 * frame is added to every event (a handler that then fails leaves a slow order's trace kept, which
 * its ERROR span would have done anyway).
 */
export function keepingSlowOrderTraces(make: HandlerFactory, judge = new SlowOrderJudge()): HandlerFactory {
  return () => {
    const inner = make();
    return {
      forget: (orderId) => inner.forget(orderId),
      handle(event, delivery) {
        if (judge.observe(event.eventType, event.orderId, event.occurredAt)) {
          const traceId = traceIdOf(delivery.traceparent);
          if (traceId) keepTrace(traceId);
        }
        return inner.handle(event, delivery);
      },
    };
  };
}
