/**
 * docs/reference/events.md from the AsyncAPI documents the services serve (nats/asyncapi.ts): each
 * event type's subjects, who sends and who receives it, its NATS headers and its fields, with an
 * example made by the publishers' own envelope code (nats/publish-event.ts) and checked against
 * the document's schema.
 */
import { Ajv } from "ajv";
import * as ajvFormats from "ajv-formats";
import { EVENT_TYPES, type EventDraft, type EventType } from "../../shared/events.ts";
import type { ServiceName } from "../../shared/services.ts";
import { completeEvent } from "../../nats/publish-event.ts";
import { code, deref, fieldTable, fieldsOf, generatedNote, table } from "./markdown.ts";

// biome-ignore lint/suspicious/noExplicitAny: OpenAPI and AsyncAPI documents, walked as plain JSON
type Json = Record<string, any>;
type FormatsPlugin = (ajv: Ajv) => Ajv;
// ajv-formats is CommonJS: its default export arrives as `default` or as the module itself.
const addFormats: FormatsPlugin =
  (ajvFormats as unknown as { default?: FormatsPlugin }).default ?? (ajvFormats as unknown as FormatsPlugin);

const ORDER_ID = "0b9a8f8e-3c1d-4a5e-9f7a-2d6c1b0e4f11";
const base = { orderId: ORDER_ID, userId: "user-42" };
/** One draft of every event type, as the services' domains make them: the examples' content. */
const DRAFTS: Record<EventType, EventDraft> = {
  ORDER_CREATED: {
    eventType: "ORDER_CREATED",
    ...base,
    amount: 25,
    currency: "EUR",
    items: [{ sku: "A-1", quantity: 2, unitPrice: 12.5 }],
  },
  PAYMENT_COMPLETED: { eventType: "PAYMENT_COMPLETED", ...base, paymentId: "pay-7f3a", amount: 25, currency: "EUR" },
  PAYMENT_FAILED: { eventType: "PAYMENT_FAILED", ...base, reason: "amount 25000 is above the limit 10000" },
  SHIPPING_READY: { eventType: "SHIPPING_READY", ...base, shippingId: "ship-91c2" },
  SHIPPING_FAILED: { eventType: "SHIPPING_FAILED", ...base, reason: "unavailable: OUT-OF-STOCK", unavailableSkus: ["OUT-OF-STOCK"] },
  ORDER_CANCEL_REQUESTED: { eventType: "ORDER_CANCEL_REQUESTED", ...base },
  PAYMENT_REFUNDED: {
    eventType: "PAYMENT_REFUNDED",
    ...base,
    paymentId: "pay-7f3a",
    amount: 25,
    currency: "EUR",
    reason: "SHIPPING_FAILED",
  },
  ORDER_CANCELLED: { eventType: "ORDER_CANCELLED", ...base, cancelReason: "SHIPPING_FAILED" },
};
/** A fixed clock, so the page is the same on every run. */
const EXAMPLE_TIME = new Date("2026-11-24T10:00:00.000Z");

const SERVICE_ORDER: readonly ServiceName[] = ["order", "payment", "shipping", "notification"];

/** Who sends and who receives a channel's message, from the services' operations. */
function rolesOf(documents: Record<ServiceName, Json>, channel: string): { senders: ServiceName[]; receivers: ServiceName[] } {
  const senders: ServiceName[] = [];
  const receivers: ServiceName[] = [];
  for (const service of SERVICE_ORDER) {
    for (const op of Object.values<Json>(documents[service].operations ?? {})) {
      if (op.channel?.$ref !== `#/channels/${channel}`) continue;
      (op.action === "send" ? senders : receivers).push(service);
    }
  }
  return { senders: [...new Set(senders)], receivers: [...new Set(receivers)] };
}

/** The document (of any service) that has this channel, and the channel. */
function channelOf(documents: Record<ServiceName, Json>, channel: string): { doc: Json; channel: Json } {
  for (const service of SERVICE_ORDER) {
    const found = documents[service].channels?.[channel];
    if (found) return { doc: documents[service], channel: found };
  }
  throw new Error(`no service's AsyncAPI document has the channel ${channel}`);
}

function exampleOf(type: EventType, payload: Json): string {
  const event = completeEvent(DRAFTS[type], EXAMPLE_TIME);
  const ajv = new Ajv({ strict: false, allErrors: true });
  addFormats(ajv);
  const validate = ajv.compile(payload);
  if (!validate(event)) throw new Error(`the example ${type} does not match its schema: ${ajv.errorsText(validate.errors)}`);
  return ["```json", JSON.stringify(event), "```"].join("\n");
}

const names = (services: readonly string[]) => services.join(", ") || "—";

/** The page. */
export function renderEventsReference(documents: Record<ServiceName, Json>): string {
  const headers = deref({ $ref: "#/components/schemas/EventHeaders" }, documents.order);
  const parameters = Object.assign({}, ...SERVICE_ORDER.map((s) => documents[s].components?.parameters ?? {})) as Record<string, Json>;
  const out: string[] = [
    generatedNote("the AsyncAPI documents the services serve at GET /asyncapi.json (nats/asyncapi.ts)"),
    "",
    "# Events",
    "",
    "The services talk only through these events, JSON messages on NATS JetStream. Every service serves the AsyncAPI 3.0 document of what it sends and receives at `GET /asyncapi.json`; this page is made from those documents. How the subjects, streams and consumers are laid out and why: [docs/design.md](../design.md).",
    "",
    "## Event types",
    "",
    table(
      ["event", "subject", "sent by", "received by", "what it says"],
      EVENT_TYPES.map((type) => {
        const { channel } = channelOf(documents, type);
        const { senders, receivers } = rolesOf(documents, type);
        const message = deref(channel.messages[type], channelOf(documents, type).doc);
        return [`[${code(type)}](#${type.toLowerCase()})`, code(channel.address), names(senders), names(receivers), message.summary ?? ""];
      }),
    ),
    "",
    "An order placed at a site has the same events on `sites.{site}.orders.{partition}.{orderId}.{eventType}`, stored in the site's `ORDERS` stream and, sourced over the leaf link, in the hub's ([Sites](../../README.md#sites)).",
    "",
    "## Subject tokens",
    "",
    table(
      ["token", "values", "meaning"],
      Object.entries(parameters).map(([name, p]) => [
        code(`{${name}}`),
        p.enum
          ? p.enum.length > 8
            ? `${code(p.enum[0])} … ${code(p.enum.at(-1))}`
            : p.enum.map((e: string) => code(e)).join(", ")
          : (p.examples ?? []).map((e: string) => code(e)).join(", "),
        p.description ?? "",
      ]),
    ),
    "",
    "## Headers",
    "",
    "Every event is published with these NATS headers:",
    "",
    table(
      ["header", "required", "value"],
      Object.entries<Json>(headers.properties).map(([name, h]) => [
        code(name),
        (headers.required ?? []).includes(name) ? "yes" : "no",
        `${"const" in h ? `${code(h.const)}: ` : ""}${h.description ?? ""}`,
      ]),
    ),
  ];
  for (const type of EVENT_TYPES) {
    const { doc, channel } = channelOf(documents, type);
    const message = deref(channel.messages[type], doc);
    const site = channelOf(documents, `site-${type}`).channel;
    const { senders, receivers } = rolesOf(documents, type);
    out.push(
      "",
      `## ${type}`,
      "",
      channel.description,
      "",
      `Subject ${code(channel.address)} (at a site ${code(site.address)}); sent by ${names(senders)}, received by ${names(receivers)}.`,
      "",
      fieldTable(fieldsOf(message.payload, doc)),
      "",
      exampleOf(type, message.payload),
    );
  }
  const notifications = channelOf(documents, "notifications");
  const notification = deref(notifications.channel.messages.NOTIFICATION, notifications.doc);
  const notificationHeaders = deref(notification.headers, notifications.doc);
  out.push(
    "",
    "## Notifications",
    "",
    notifications.channel.description,
    "",
    `Subject ${code(notifications.channel.address)}, sent by ${names(rolesOf(documents, "notifications").senders)}. ${notification.summary}`,
    "",
    fieldTable(fieldsOf(notification.payload, notifications.doc)),
    "",
    table(
      ["header", "value"],
      Object.entries<Json>(notificationHeaders.properties).map(([name, h]) => [
        code(name),
        `${"const" in h ? `${code(h.const)}: ` : ""}${h.description ?? ""}`,
      ]),
    ),
    "",
  );
  return out.join("\n");
}
