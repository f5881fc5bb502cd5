/**
 * What an order's trace is made of: the POST, one publish span per event, one CONSUMER span per
 * service delivered the event (each service's consumers are filtered to the types it acts on), and
 * — when NOTIFY_WEBHOOK_URL is set — one CLIENT span per webhook POST, under notification's.
 */
import { CONSUMED_EVENT_TYPES, DEFAULT_SERVICES, type ServiceName } from "../../nats/subjects.ts";
import { eventSubjectTemplate } from "../../nats/subject-templates.ts";
import { messagingSpanName, PROCESS_OPERATION, PUBLISH_OPERATION } from "../../otel/messaging-attributes.ts";
import type { EventType } from "../../shared/events.ts";

/** The services (as `<name>-service`) that process an event type, of those running (default: the default system). */
export function consumersOf(eventType: string, running: readonly ServiceName[] = DEFAULT_SERVICES): string[] {
  return running.filter((s) => CONSUMED_EVENT_TYPES[s].includes(eventType as EventType)).map((s) => `${s}-service`);
}

/** The event types a service (as `<name>-service`) processes out of a chain, sorted. */
export function processedBy(serviceLabel: string, chain: readonly string[]): string[] {
  return chain.filter((e) => consumersOf(e).includes(serviceLabel)).sort();
}

/** The PRODUCER span's name for an event type: `publish orders.{partition}.{orderId}.<TYPE>`. */
export function publishSpanName(eventType: string): string {
  return messagingSpanName(PUBLISH_OPERATION.name, { name: "", template: eventSubjectTemplate(eventType) });
}

/** The CONSUMER span's name for an event type: `process orders.{partition}.{orderId}.<TYPE>`. */
export function processSpanName(eventType: string): string {
  return messagingSpanName(PROCESS_OPERATION.name, { name: "", template: eventSubjectTemplate(eventType) });
}

/**
 * Spans of an order's trace: 1 HTTP + one publish per event + one process span per consumer of
 * each, + one webhook POST per event (notification is delivered every type) when `webhook`.
 */
export function spanCount(chain: readonly string[], opts: { webhook?: boolean } = {}): number {
  const posts = opts.webhook ? chain.filter((e) => consumersOf(e).includes("notification-service")).length : 0;
  return 1 + chain.length + chain.reduce((n, eventType) => n + consumersOf(eventType).length, 0) + posts;
}
