/**
 * The order API's request body, validated with valibot (docs/reference/http-api.md#post-orders), and its answers;
 * the OpenAPI document (GET /openapi.json) is generated from these schemas.
 */
import * as v from "valibot";
import { ORDER_ID_PATTERN, USER_ID_PATTERN } from "../../shared/ids.ts";
import { CANCEL_REASONS, EVENT_TYPES, OrderEventSchema, OrderItemSchema } from "../../shared/events.ts";
import type { OrderStatus } from "./domain/order.ts";

const hasAtMostTwoDecimals = (n: number) => Math.round(n * 100) / 100 === n;
const cents = (n: number) => Math.round(n * 100);

const Price = v.pipe(
  v.number("must be a number"),
  v.description("At most 2 decimal places."),
  v.finite("must be a finite number"),
  v.minValue(0, "must not be negative"),
  v.maxValue(1_000_000_000, "must be at most 1,000,000,000"),
  v.check(hasAtMostTwoDecimals, "must have at most 2 decimal places"),
);

export const CreateOrderBody = v.pipe(
  v.custom<unknown>((x) => typeof x === "object" && x !== null && !Array.isArray(x), "must be a JSON object"),
  v.object(
    {
      userId: v.pipe(
        v.string("must be a string"),
        v.regex(USER_ID_PATTERN, "must be 1-64 letters, digits, '_' or '-'"),
        v.description("The customer: 1-64 letters, digits, '_' or '-'."),
      ),
      amount: v.pipe(
        v.number("must be a number"),
        v.description("> 0, at most 1,000,000,000, at most 2 decimal places; with items, the sum of quantity × unitPrice to the cent."),
        v.finite("must be a finite number"),
        v.gtValue(0, "must be greater than 0"),
        v.maxValue(1_000_000_000, "must be at most 1,000,000,000"),
        v.check(hasAtMostTwoDecimals, "must have at most 2 decimal places"),
      ),
      currency: v.optional(
        v.pipe(
          v.string("must be a string"),
          v.regex(/^[A-Z]{3}$/, "must be three capital letters"),
          v.description("ISO 4217 code: three capital letters."),
        ),
        "USD",
      ),
      items: v.optional(
        v.pipe(
          v.array(
            v.object({
              sku: v.pipe(
                v.string("must be a string"),
                v.minLength(1, "must not be empty"),
                v.maxLength(64, "must be at most 64 characters"),
                v.regex(/^[\x21-\x7e]+$/, "must be printable ASCII without spaces"),
              ),
              quantity: v.pipe(
                v.number("must be a number"),
                v.integer("must be a whole number"),
                v.minValue(1, "must be at least 1"),
                v.maxValue(1_000_000, "must be at most 1,000,000"),
              ),
              unitPrice: Price,
            }),
            "must be an array of items",
          ),
          v.maxLength(500, "must hold at most 500 items"),
          v.description("What is ordered; when given, `amount` is their sum."),
        ),
        [],
      ),
    },
    (issue) => (issue.path ? "is required" : "must be a JSON object"),
  ),
  v.forward(
    v.check(
      (body) =>
        body.items.length === 0 || body.items.reduce((sum, item) => sum + item.quantity * cents(item.unitPrice), 0) === cents(body.amount),
      "must equal the sum of quantity × unitPrice over the items",
    ),
    ["amount"],
  ),
  v.description("A new order. `currency` defaults to USD, `items` to none."),
);

export type CreateOrderInput = v.InferOutput<typeof CreateOrderBody>;

// ---- answers --------------------------------------------------------------------------------
// The routes' answers as valibot schemas: the OpenAPI document is generated from them, and the
// routes build their bodies as these types, so neither can drift from the other.

const OrderId = v.pipe(
  v.string(),
  v.regex(new RegExp(ORDER_ID_PATTERN)),
  v.description("An order id as the API issues it: a UUID (lower case), at a site `<site>-<uuid>`."),
);
const TraceId = v.pipe(v.string(), v.regex(/^[0-9a-f]{32}$/), v.description("W3C trace id of the order's trace."));
const Timestamp = v.pipe(v.string(), v.isoTimestamp());

/** The path parameter of every /orders/{orderId} route. */
export const ORDER_ID_PARAMETER = {
  name: "orderId",
  in: "path",
  required: true,
  description: "The order id POST /orders answered with. Any other value is 404.",
  schema: { type: "string", pattern: ORDER_ID_PATTERN },
} as const;

export const CreatedOrderBody = v.object({
  orderId: OrderId,
  status: v.literal("CREATED"),
  traceId: v.pipe(v.nullable(TraceId), v.description("The order's trace (null when the publish carried no trace context).")),
});
export type CreatedOrder = v.InferOutput<typeof CreatedOrderBody>;

export const ORDER_STATUSES = ["CREATED", "PAID", "SHIPPING_READY", "CANCELLED"] as const satisfies readonly OrderStatus[];

export const OrderViewBody = v.object({
  orderId: OrderId,
  userId: v.pipe(v.string(), v.regex(USER_ID_PATTERN)),
  amount: v.number(),
  currency: v.pipe(v.string(), v.regex(/^[A-Z]{3}$/)),
  items: v.array(OrderItemSchema),
  status: v.pipe(
    v.picklist(ORDER_STATUSES),
    v.description(
      "CREATED, then PAID and SHIPPING_READY; CANCELLED (with `cancelReason`) when payment or shipping failed or the customer cancelled.",
    ),
  ),
  createdAt: v.pipe(Timestamp, v.description("When ORDER_CREATED was published.")),
  updatedAt: v.pipe(Timestamp, v.description("When the order's latest event was published.")),
  paymentId: v.optional(v.pipe(v.string(), v.description("From PAYMENT_COMPLETED, once paid."))),
  shippingId: v.optional(v.pipe(v.string(), v.description("From SHIPPING_READY, once ready to ship."))),
  cancelReason: v.optional(v.pipe(v.picklist(CANCEL_REASONS), v.description("Why it was cancelled (a cancelled order only)."))),
  traceId: v.optional(TraceId),
  hub: v.optional(
    v.pipe(
      v.picklist(["waiting", "received"]),
      v.description("At a site only: whether the hub has this order's latest site event yet (`waiting` while the link is down)."),
    ),
  ),
});
export type OrderViewAnswer = v.InferOutput<typeof OrderViewBody>;

export const OrderEventsBody = v.array(
  v.object({
    seq: v.pipe(v.number(), v.integer(), v.minValue(1), v.description("The event's ORDERS stream sequence.")),
    subject: v.pipe(v.string(), v.description("The NATS subject it was stored on (docs/reference/events.md).")),
    time: v.pipe(Timestamp, v.description("When the stream stored it.")),
    eventType: v.picklist(EVENT_TYPES),
    data: v.pipe(OrderEventSchema, v.description("The event as published: one of the payloads of docs/reference/events.md.")),
    traceparent: v.pipe(v.nullable(v.string()), v.description("The W3C trace context it was published with (null without one).")),
  }),
);
export type OrderEventsAnswer = v.InferOutput<typeof OrderEventsBody>;

/** `?fromSeq=N` of GET /orders/{orderId}/events. */
export const FROM_SEQ_PARAMETER = {
  name: "fromSeq",
  in: "query",
  required: false,
  description: "Start at this ORDERS stream sequence (default 0: from the first event).",
  schema: { type: "integer", minimum: 0, maximum: Number.MAX_SAFE_INTEGER },
} as const;

const TraceSpanSchema = v.object({
  spanId: v.string(),
  parentSpanId: v.nullable(v.string()),
  service: v.string(),
  operation: v.string(),
  kind: v.nullable(v.string()),
  startTimeUs: v.number(),
  durationUs: v.number(),
  status: v.picklist(["ok", "error", "unset"]),
  attributes: v.record(v.string(), v.union([v.string(), v.number(), v.boolean()])),
});

export const OrderTraceBody = v.object({
  orderId: OrderId,
  traceId: v.nullable(TraceId),
  jaegerUrl: v.nullable(v.string()),
  spans: v.pipe(
    v.nullable(v.array(TraceSpanSchema)),
    v.description("From Jaeger; null (with a warning) when Jaeger does not answer or has no such trace."),
  ),
  warning: v.optional(v.string()),
});
export type OrderTraceAnswer = v.InferOutput<typeof OrderTraceBody>;

export const CancelAcceptedBody = v.object({
  orderId: OrderId,
  status: v.pipe(v.picklist(["CREATED", "PAID"]), v.description("The order's status when the cancel was asked.")),
  cancelRequested: v.literal(true),
});
export type CancelAccepted = v.InferOutput<typeof CancelAcceptedBody>;
