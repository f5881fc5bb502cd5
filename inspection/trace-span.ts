/**
 * A trace as inspection shows it: flat spans (inspection/jaeger-spans.ts makes them from Jaeger's
 * answers), the lookup that found them, and the label both waterfalls give a span.
 */

/** One span as the waterfalls and the order API show it. */
export interface TraceSpan {
  spanId: string;
  parentSpanId: string | null;
  service: string;
  operation: string;
  /** "server" | "client" | "producer" | "consumer" | "internal", or null when the span has none. */
  kind: string | null;
  startTimeUs: number;
  durationUs: number;
  status: "ok" | "error" | "unset";
  attributes: Record<string, string | number | boolean>;
}

/** What a trace lookup found: spans, or null with a warning saying why. */
export interface TraceLookup {
  traceId: string;
  /** Jaeger UI link: `<base>/trace/<traceId>`. */
  jaegerUrl: string;
  spans: TraceSpan[] | null;
  warning?: string;
}

/**
 * A span's name as the waterfalls show it. A messaging span is named after its destination template
 * (`publish orders.{partition}.{orderId}.ORDER_CREATED`, otel/messaging-attributes.ts), the same
 * for every order, so within one trace its operation and event type say it all:
 * `publish ORDER_CREATED`. A CLIENT span, named by its method alone, adds where it went.
 *
 * @example spanLabel(span) // "process PAYMENT_COMPLETED", "POST 127.0.0.1:8080", "POST /orders"
 */
export function spanLabel(span: TraceSpan): string {
  const a = span.attributes;
  const operation = a["messaging.operation.name"];
  const eventType = a["orderstream.event_type"];
  if (typeof operation === "string" && typeof eventType === "string") return `${operation} ${eventType}`;
  const address = a["server.address"];
  if (span.kind === "client" && typeof address === "string") {
    const port = a["server.port"];
    return `${span.operation} ${address.includes(":") ? `[${address}]` : address}${port !== undefined ? `:${port}` : ""}`;
  }
  return span.operation;
}
