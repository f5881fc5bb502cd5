/** The order timeline as a terminal table. Pure. */
import type { StoredEvent } from "../nats/order-history.ts";
import type { OrderEvent } from "../shared/events.ts";

function detail(event: OrderEvent): string {
  switch (event.eventType) {
    case "ORDER_CREATED":
      return `user ${event.userId}, ${event.amount.toFixed(2)} ${event.currency}, ${event.items.length} item(s)`;
    case "PAYMENT_COMPLETED":
      return `payment ${event.paymentId}`;
    case "PAYMENT_FAILED":
    case "SHIPPING_FAILED":
      return event.reason;
    case "SHIPPING_READY":
      return `shipment ${event.shippingId}`;
    case "PAYMENT_REFUNDED":
      return `payment ${event.paymentId} refunded (${event.reason})`;
    case "ORDER_CANCELLED":
      return event.cancelReason;
    default:
      return "";
  }
}

export function renderEventTable(history: StoredEvent[]): string {
  const rows = history.map((e) => [String(e.seq), e.time, e.event.eventType, detail(e.event)]);
  const header = ["SEQ", "TIME", "EVENT", "DETAIL"];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join("  ");
  const traceId = history[0]?.traceparent?.split("-")[1];
  return [line(header), ...rows.map(line), ...(traceId ? [`trace ${traceId}`] : [])].join("\n");
}
