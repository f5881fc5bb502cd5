/**
 * What an order's trace is made of: the POST, one send span per event, and one CONSUMER span per
 * service delivered the event (each service's consumers are filtered to the types it acts on).
 */
import { CONSUMED_EVENT_TYPES, SERVICES } from "../../nats/subjects.ts";
import type { EventType } from "../../shared/events.ts";

/** The services (as `<name>-service`) that process an event type. */
export function consumersOf(eventType: string): string[] {
  return SERVICES.filter((s) => CONSUMED_EVENT_TYPES[s].includes(eventType as EventType)).map((s) => `${s}-service`);
}

/** The event types a service (as `<name>-service`) processes out of a chain, sorted. */
export function processedBy(serviceLabel: string, chain: readonly string[]): string[] {
  return chain.filter((e) => consumersOf(e).includes(serviceLabel)).sort();
}

/** Spans of an order's trace: 1 HTTP + one send per event + one process span per consumer of each. */
export function spanCount(chain: readonly string[]): number {
  return 1 + chain.length + chain.reduce((n, eventType) => n + consumersOf(eventType).length, 0);
}
