/**
 * How tracing names ORDERS subjects (nats/subjects.ts names them): the low-cardinality template of
 * `messaging.destination.template` and the messaging span names.
 */
import { EVENT_TYPES } from "../shared/events.ts";
import { parseEventSubject, type EventSubject } from "./subjects.ts";

/**
 * The low-cardinality form of an ORDERS subject, for tracing (`messaging.destination.template`
 * and the messaging span names): partition and order id as placeholders, the event type kept when
 * it is one of ours (any other token could be anything, so it is a placeholder too).
 */
export function eventSubjectTemplate(eventType: string, ofSite = false): string {
  const known = ofSite ? SITE_TEMPLATES : TEMPLATES;
  return known.get(eventType) ?? known.get("")!;
}

// Every template there is, made once: one is looked up per message published and delivered.
const templates = (prefix: string) =>
  new Map([...EVENT_TYPES, ""].map((t) => [t, `${prefix}orders.{partition}.{orderId}.${t === "" ? "{eventType}" : t}`]));
const TEMPLATES = templates("");
const SITE_TEMPLATES = templates("sites.{site}.");

/** A subject as tracing describes it: itself, its template (null if not an ORDERS subject) and its partition. */
export function eventDestination(
  subject: string,
  parsed: EventSubject | null = parseEventSubject(subject),
): { name: string; template: string | null; partitionId?: string } {
  if (!parsed) return { name: subject, template: null };
  return {
    name: subject,
    template: eventSubjectTemplate(parsed.eventType, subject.startsWith("sites.")),
    partitionId: String(parsed.partition),
  };
}
