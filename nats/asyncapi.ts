/**
 * A service's AsyncAPI 3.0 document, generated from the code the way its OpenAPI document is
 * (shared/http/openapi.ts): channels are the subjects of nats/subjects.ts, their addresses made by
 * the same functions the publishers call; messages are the valibot schemas of shared/events.ts
 * converted to JSON Schema (@valibot/to-json-schema, draft-07: the dialect AsyncAPI's default
 * schema format extends); operations are what the service receives (CONSUMED_EVENT_TYPES) and
 * sends (PUBLISHED_EVENT_TYPES, and the notifications). Each event type has two channels, one per
 * form of its subject: an order of a single-site system or of the hub (`orders.…`), and an order
 * placed at a site (`sites.{site}.orders.…`, README "Sites"). Served at `GET /asyncapi.json`.
 */
import type * as v from "valibot";
import { toJsonSchema } from "@valibot/to-json-schema";
import { PubHeaders } from "@nats-io/jetstream";
import {
  EVENT_TYPES,
  NotificationSchema,
  OrderCancelledSchema,
  OrderCancelRequestedSchema,
  OrderCreatedSchema,
  PaymentCompletedSchema,
  PaymentFailedSchema,
  PaymentRefundedSchema,
  ShippingFailedSchema,
  ShippingReadySchema,
  type EventType,
} from "../shared/events.ts";
import {
  CONSUMED_EVENT_TYPES,
  eventSubject,
  Header,
  NOTIFICATIONS_STREAM,
  notificationSubject,
  ORDERS_STREAM,
  LANES,
  PARTITIONS,
  partitionOf,
  PUBLISHED_EVENT_TYPES,
  type ServiceName,
} from "./subjects.ts";

export const ASYNCAPI_VERSION = "3.0.0";

/** An AsyncAPI document as JSON: plain objects, `$ref`s within the document. */
export type AsyncApiDocument = { asyncapi: string } & Record<string, unknown>;

const EVENT_SCHEMAS: Record<EventType, v.GenericSchema> = {
  ORDER_CREATED: OrderCreatedSchema,
  PAYMENT_COMPLETED: PaymentCompletedSchema,
  PAYMENT_FAILED: PaymentFailedSchema,
  SHIPPING_READY: ShippingReadySchema,
  SHIPPING_FAILED: ShippingFailedSchema,
  ORDER_CANCEL_REQUESTED: OrderCancelRequestedSchema,
  PAYMENT_REFUNDED: PaymentRefundedSchema,
  ORDER_CANCELLED: OrderCancelledSchema,
};

const EVENT_SUMMARIES: Record<EventType, string> = {
  ORDER_CREATED: "An order was placed (POST /orders).",
  PAYMENT_COMPLETED: "The order's payment was charged.",
  PAYMENT_FAILED: "The order's payment was declined.",
  SHIPPING_READY: "The order is ready to ship.",
  SHIPPING_FAILED: "The order cannot be shipped (items unavailable); its payment is refunded.",
  ORDER_CANCEL_REQUESTED: "The customer asked to cancel the order (POST /orders/{orderId}/cancel).",
  PAYMENT_REFUNDED: "The order's payment was refunded.",
  ORDER_CANCELLED: "The order was cancelled.",
};

/**
 * Subject parameters: what each `{token}` of an address holds. A token without an entry here (a
 * subject gaining one) still gets a parameter, described by its name.
 */
const PARAMETERS: Record<string, { description: string; enum?: string[]; examples?: string[] }> = {
  partition: {
    description: `The order's partition: FNV-1a 32-bit of the order id modulo ${PARTITIONS} (partitionOf in nats/subjects.ts). Each service reads it through a lane (partition mod ${LANES}, laneOf in nats/subjects.ts), owned by one instance at a time.`,
    enum: Array.from({ length: PARTITIONS }, (_, p) => String(p)),
  },
  orderId: {
    description:
      "The order id from POST /orders: a UUID, or `<site>-<UUID>` for an order placed at a site (its site's name first, shared/ids.ts).",
    examples: ["0b9a8f8e-3c1d-4a5e-9f7a-2d6c1b0e4f11", "edge1-0b9a8f8e-3c1d-4a5e-9f7a-2d6c1b0e4f11"],
  },
  site: {
    description:
      "The site the order was placed at (SITE of its order service; the JetStream domain of the site's server): lower-case letters, digits and inner dashes, at most 16. The same name begins the order id.",
    examples: ["edge1"],
  },
  userId: { description: "The order's userId: 1-64 letters, digits, '_' or '-'.", examples: ["user-42"] },
  eventType: { description: "The type of the order event notified.", enum: [...EVENT_TYPES] },
};

/** The schema `to-json-schema` makes of a valibot schema, without `$schema` (the document sets the dialect). */
function jsonSchemaOf(schema: v.GenericSchema): Record<string, unknown> {
  const { $schema: _, ...rest } = toJsonSchema(schema, { target: "draft-07", typeMode: "output", errorMode: "ignore" }) as Record<
    string,
    unknown
  >;
  return rest;
}

/** The two forms of an event's subject: a plain order id, or one placed at a site. */
type SubjectForm = "plain" | "site";
const SUBJECT_FORMS: readonly SubjectForm[] = ["plain", "site"];

/**
 * A UUID-shaped tail for the placeholder id of a site's order: shared/ids.ts finds the site as what
 * comes before the last 36 characters, so `{site}-` + this makes eventSubject put `{site}` wherever
 * it puts a site's name.
 */
const UUID_SHAPED = "00000000-0000-4000-8000-000000000000";

/**
 * An address template from a subject function: called with placeholder ids, so whatever the
 * function puts around them (a prefix, another token) the document shows too. The order id token
 * becomes `{orderId}`, the partition the function computes from it `{partition}`, and for a site's
 * order the site name it takes from the id stays `{site}`.
 */
function orderEventAddress(eventType: EventType, form: SubjectForm): string {
  const orderId = form === "site" ? `{site}-${UUID_SHAPED}` : "{orderId}";
  const subject = eventSubject(orderId, eventType);
  const tokens = subject.split(".");
  const at = tokens.indexOf(orderId);
  if (at < 1 || tokens[at - 1] !== String(partitionOf(orderId)) || (form === "site" && !tokens.includes("{site}"))) {
    throw new Error(
      `eventSubject's layout changed (no partition token before the order id, or no site token, in ${subject}): update nats/asyncapi.ts`,
    );
  }
  tokens[at - 1] = "{partition}";
  tokens[at] = "{orderId}";
  return tokens.join(".");
}

/** The channel (and operation id suffix) of an event type in one form: `ORDER_CREATED`, `site-ORDER_CREATED`. */
function channelKey(eventType: EventType, form: SubjectForm): string {
  return form === "site" ? `site-${eventType}` : eventType;
}

function notificationAddress(): string {
  return notificationSubject("{userId}", "{orderId}", "{eventType}" as EventType);
}

function parametersOf(address: string): Record<string, { $ref: string }> {
  const names = [...address.matchAll(/\{([A-Za-z0-9_]+)\}/g)].map((m) => m[1]!);
  return Object.fromEntries(names.map((name) => [name, { $ref: `#/components/parameters/${name}` }]));
}

function parameterObject(name: string): Record<string, unknown> {
  return PARAMETERS[name] ?? { description: `The subject's ${name} token.` };
}

const W3C_TRACEPARENT = "^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$";

/** The headers of a guarded publish (nats/publish-event.ts, services/notification/store.ts). */
const GUARD_HEADERS = [PubHeaders.MsgIdHdr, PubHeaders.ExpectedLastSubjectSequenceHdr, PubHeaders.ExpectedStreamHdr];

/** The NATS headers every order event is published with (nats/publish-event.ts). */
const EVENT_HEADERS = {
  type: "object",
  properties: {
    [Header.traceparent]: {
      type: "string",
      pattern: W3C_TRACEPARENT,
      description:
        "W3C trace context of the PRODUCER span (otel/nats-headers.ts): the consumer's span joins the order's one trace. Absent when tracing is off.",
    },
    [Header.tracestate]: { type: "string", description: "W3C trace state, when the trace carries vendor state." },
    [PubHeaders.MsgIdHdr]: {
      type: "string",
      description: "= the payload's eventId, one per (order, event type): JetStream drops a retried publish within its duplicate window.",
    },
    [PubHeaders.ExpectedLastSubjectSequenceHdr]: {
      type: "string",
      const: "0",
      description:
        "No message on this subject yet: the stream refuses a second event of this type for this order, whatever the retries or replays.",
    },
    [PubHeaders.ExpectedStreamHdr]: { type: "string", const: ORDERS_STREAM, description: "The stream that must store the event." },
  },
  required: GUARD_HEADERS,
};

/** The NATS headers of a notification (services/notification/store.ts): guarded like the events. */
const NOTIFICATION_HEADERS = {
  type: "object",
  properties: {
    [PubHeaders.MsgIdHdr]: { type: "string", description: "= the notified event's eventId: a notification is recorded once per event." },
    [PubHeaders.ExpectedLastSubjectSequenceHdr]: { type: "string", const: "0", description: "No notification on this subject yet." },
    [PubHeaders.ExpectedStreamHdr]: { type: "string", const: NOTIFICATIONS_STREAM, description: "The stream that must store it." },
  },
  required: GUARD_HEADERS,
};

const NOTIFICATION = "NOTIFICATION";
const NOTIFICATIONS_CHANNEL = "notifications";
/** The service that records the notifications (services/notification/store.ts). */
const NOTIFICATION_SENDER: ServiceName = "notification";

/** `ORDER_CREATED` → `OrderCreated`, for operation ids. */
function pascal(name: string): string {
  return name
    .toLowerCase()
    .split("_")
    .map((w) => w[0]!.toUpperCase() + w.slice(1))
    .join("");
}

/**
 * The AsyncAPI 3.0 document of one service: the channels it sends to or receives from, their
 * messages, and its operations.
 *
 * @example
 * app.get("/asyncapi.json", (c) => c.json(generateAsyncApiDocument("payment", { version: "1.0.0" })));
 */
export function generateAsyncApiDocument(service: ServiceName, info: { version: string }): AsyncApiDocument {
  const received = CONSUMED_EVENT_TYPES[service];
  const sent = PUBLISHED_EVENT_TYPES[service];
  const eventTypes = EVENT_TYPES.filter((t) => received.includes(t) || sent.includes(t));
  const sendsNotifications = service === NOTIFICATION_SENDER;

  const channels: Record<string, unknown> = {};
  const messages: Record<string, unknown> = {};
  const parameters = new Set<string>();
  for (const type of eventTypes) {
    for (const form of SUBJECT_FORMS) {
      const address = orderEventAddress(type, form);
      for (const p of Object.keys(parametersOf(address))) parameters.add(p);
      channels[channelKey(type, form)] = {
        address,
        title: form === "site" ? `${type} (at a site)` : type,
        description:
          form === "site"
            ? `${EVENT_SUMMARIES[type]} Of an order placed at a site: stored in the site's ${ORDERS_STREAM} stream and, sourced over the leaf link, in the hub's; at most one per order.`
            : `${EVENT_SUMMARIES[type]} Stored in the ${ORDERS_STREAM} stream; at most one per order.`,
        parameters: parametersOf(address),
        messages: { [type]: { $ref: `#/components/messages/${type}` } },
      };
    }
    messages[type] = {
      name: type,
      title: type,
      summary: EVENT_SUMMARIES[type],
      contentType: "application/json",
      headers: { $ref: "#/components/schemas/EventHeaders" },
      payload: jsonSchemaOf(EVENT_SCHEMAS[type]),
    };
  }
  if (sendsNotifications) {
    const address = notificationAddress();
    for (const p of Object.keys(parametersOf(address))) parameters.add(p);
    channels[NOTIFICATIONS_CHANNEL] = {
      address,
      title: "Notifications",
      description: `What a customer is told about each event of their order, one per (user, order, event type), in the ${NOTIFICATIONS_STREAM} stream; GET /users/{userId}/notifications lists them.`,
      parameters: parametersOf(address),
      messages: { [NOTIFICATION]: { $ref: `#/components/messages/${NOTIFICATION}` } },
    };
    messages[NOTIFICATION] = {
      name: NOTIFICATION,
      title: "Notification",
      summary: "A notification of one order event (also POSTed to NOTIFY_WEBHOOK_URL when set).",
      contentType: "application/json",
      headers: { $ref: "#/components/schemas/NotificationHeaders" },
      payload: jsonSchemaOf(NotificationSchema),
    };
  }

  const operations: Record<string, unknown> = {};
  const operation = (action: "send" | "receive", channel: string, message: string, summary: string) => ({
    action,
    channel: { $ref: `#/channels/${channel}` },
    summary,
    messages: [{ $ref: `#/channels/${channel}/messages/${message}` }],
  });
  // An operation has one channel (AsyncAPI 3): one per form, the site form's id ending in AtSite.
  const opId = (action: string, type: EventType, form: SubjectForm) => `${action}${pascal(type)}${form === "site" ? "AtSite" : ""}`;
  const ofSite = (form: SubjectForm) => (form === "site" ? " of an order placed at a site" : "");
  for (const form of SUBJECT_FORMS) {
    for (const type of sent) {
      operations[opId("send", type, form)] = operation(
        "send",
        channelKey(type, form),
        type,
        `The ${service} service publishes ${type}${ofSite(form)}.`,
      );
    }
    for (const type of received) {
      operations[opId("receive", type, form)] = operation(
        "receive",
        channelKey(type, form),
        type,
        `The ${service} service is delivered ${type}${ofSite(form)}: by its durable consumer of the event's partition, on the instance that owns the partition.`,
      );
    }
  }
  if (sendsNotifications) {
    operations.sendNotification = operation(
      "send",
      NOTIFICATIONS_CHANNEL,
      NOTIFICATION,
      `The ${service} service records a notification per event.`,
    );
  }

  return {
    asyncapi: ASYNCAPI_VERSION,
    info: {
      title: `orderstream ${service} service events`,
      version: info.version,
      description: `The events the ${service} service sends and receives over NATS JetStream. Every service only talks through these events; its HTTP API is in /openapi.json.`,
    },
    defaultContentType: "application/json",
    channels,
    operations,
    components: {
      messages,
      schemas: {
        EventHeaders: EVENT_HEADERS,
        ...(sendsNotifications ? { NotificationHeaders: NOTIFICATION_HEADERS } : {}),
      },
      parameters: Object.fromEntries([...parameters].map((name) => [name, parameterObject(name)])),
    },
  };
}
