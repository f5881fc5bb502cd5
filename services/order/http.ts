/** The order API routes (docs/reference/http-api.md#the-order-service). */
import { keepTrace } from "../../otel/outcome-sampling.ts";
import { Hono, type Context } from "hono";
import type { ServiceConfig } from "../../shared/config.ts";
import { bearerAuth } from "hono/bearer-auth";
import { HttpProblem, problemResponse } from "../../shared/http/problem.ts";
import { readJsonBody } from "../../shared/http/json-body.ts";
import { isOrderId, newOrderId, siteOfOrderId } from "../../shared/ids.ts";
import { eventRecord, traceIdOf, type StoredEvent } from "../../nats/order-history.ts";
import { decideCancel, decideCreate, foldOrder, type OrderView } from "./domain/order.ts";
import {
  CancelAcceptedBody,
  CreatedOrderBody,
  CreateOrderBody,
  FROM_SEQ_PARAMETER,
  ORDER_ID_PARAMETER,
  OrderEventsBody,
  OrderTraceBody,
  OrderViewBody,
  type CancelAccepted,
  type CreatedOrder,
  type OrderEventsAnswer,
  type OrderViewAnswer,
  type OrderTraceAnswer,
} from "./http-schemas.ts";
import {
  BODY_PROBLEMS,
  describeRoute,
  type DescribeRouteOptions,
  header,
  jsonResponse,
  problems,
  schemaOf,
  STORE_FULL,
  UNAVAILABLE,
} from "../../shared/http/openapi.ts";
import { claimOrderId } from "./idempotency.ts";
import { fetchTrace } from "../../inspection/jaeger-client.ts";
import { ORDER_ID_ATTR } from "../../otel/messaging-attributes.ts";
import { requestSpan, requestTrace } from "../../otel/http-server-span.ts";
import { traceFields } from "../../shared/logger.ts";
import { fetchOrderLogs } from "../../inspection/log-query.ts";
import type { OrderRuntime } from "./runtime.ts";
import { renderOrderTimelinePage } from "../../inspection/timeline-page.ts";

function notFound(orderId: string): HttpProblem {
  return new HttpProblem(404, "order-not-found", `There is no order ${JSON.stringify(orderId.slice(0, 80))}.`);
}

/** The order's events from the stream, or 404 — also for ids not of the form the API issues. */
async function historyOf(rt: OrderRuntime, orderId: string): Promise<StoredEvent[]> {
  if (!isOrderId(orderId)) throw notFound(orderId);
  const history = await rt.infra.history(orderId);
  if (history.length === 0) throw notFound(orderId);
  return history;
}

function viewFrom(history: StoredEvent[], orderId: string): OrderView {
  const view = foldOrder(history.map((e) => e.event));
  if (!view) throw notFound(orderId);
  view.traceId = traceIdOf(history[0]?.traceparent) ?? undefined;
  return view;
}

function publicView(view: OrderView) {
  const { cancelRequested: _requested, cancelDue: _due, ...rest } = view;
  return rest;
}

/** What hono/bearer-auth accepts as a token (RFC 6750's b64token): other tokens could never match. */
const BEARER_TOKEN = /^[A-Za-z0-9._~+/-]+=*$/;

/**
 * `Authorization: Bearer <token>` by Hono's bearer-auth (constant-time comparison), answering a
 * missing, malformed (Hono's 400) or wrong header alike: 401 problem+json with the challenge. Its
 * Response travels in an HTTPException, which the host's onError passes on (host/http-app.ts).
 */
function requireToken(token: string) {
  if (!BEARER_TOKEN.test(token)) {
    throw new Error("ORDER_API_TOKEN must be a bearer token: letters, digits and - . _ ~ + / (then = only at the end)");
  }
  const unauthorized = (c: Context) => {
    const problem = new HttpProblem(401, "unauthorized", "Send Authorization: Bearer <ORDER_API_TOKEN>.");
    problem.headers.set("www-authenticate", 'Bearer realm="orderstream"');
    return problemResponse(problem, c.req.path);
  };
  const challenge = { message: unauthorized };
  return bearerAuth({
    token,
    realm: "orderstream",
    noAuthenticationHeader: challenge,
    invalidAuthenticationHeader: challenge,
    invalidToken: challenge,
  });
}

/** The Idempotency-Key request header: 1-255 printable ASCII (no leading or trailing space, which HTTP drops). */
const IDEMPOTENCY_KEY_PARAMETER = {
  name: "Idempotency-Key",
  in: "header",
  required: false,
  description:
    "The same key with the same body answers the same order (201 the first time, 200 for a repeat), also for concurrent " +
    "duplicates, which get the first one's order (never a second order); with another body, 422 " +
    "(draft-ietf-httpapi-idempotency-key-header). Kept at least 24 h.",
  schema: { type: "string", pattern: "^[\\x21-\\x7e]([\\x20-\\x7e]{0,253}[\\x21-\\x7e])?$" },
} as const;

const LOCATION = { Location: header("`/orders/{orderId}`", { type: "string", pattern: "^/orders/[0-9a-f-]{36}$" }) };

/** What the order service's OpenAPI document says of its API. */
export function orderApi(config: ServiceConfig) {
  return {
    description:
      "The order API: create an order, read its view, its events and its trace, ask to cancel it. Errors are " +
      "RFC 9457 `application/problem+json`." +
      (config.orderApiToken ? " Every /orders route asks `Authorization: Bearer <ORDER_API_TOKEN>`." : ""),
    bearerAuth: config.orderApiToken !== undefined,
  };
}

/** Links from a created order to the routes that take its id (OpenAPI links; schemathesis follows them). */
const ORDER_LINKS = Object.fromEntries(
  (
    [
      ["GetOrder", "getOrder"],
      ["GetOrderEvents", "getOrderEvents"],
      ["GetOrderTrace", "getOrderTrace"],
      ["GetOrderTimelinePage", "getOrderTimelinePage"],
      ["CancelOrder", "cancelOrder"],
    ] as const
  ).map(([name, operationId]) => [name, { operationId, parameters: { orderId: "$response.body#/orderId" } }]),
);

export function orderRoutes(app: Hono, runtime: () => OrderRuntime, config: ServiceConfig): void {
  // Each route is described with the schemas it validates with and answers by (shared/http/openapi.ts).
  const guarded = config.orderApiToken !== undefined;
  const describe = (operationId: string, summary: string, spec: Omit<DescribeRouteOptions, "summary" | "tags" | "operationId">) =>
    describeRoute({
      operationId,
      tags: ["orders"],
      summary,
      ...spec,
      ...(guarded ? { security: [{ bearerAuth: [] }] } : {}),
      responses: {
        ...spec.responses,
        ...(guarded ? problems({ 401: "No `Authorization: Bearer <ORDER_API_TOKEN>`, or another token." }) : {}),
        ...problems(UNAVAILABLE),
      },
    });
  const byId = { parameters: [ORDER_ID_PARAMETER] };
  const unknownOrder = problems({ 404: "No such order: unknown, or not an id of the form the API issues." });

  const orders = new Hono();
  if (config.orderApiToken) orders.use(requireToken(config.orderApiToken));
  // The request's span names the order, when the path holds an id of the issued form.
  const tagOrder = async (c: Context, next: () => Promise<void>) => {
    const orderId = c.req.param("orderId");
    if (orderId !== undefined && isOrderId(orderId)) requestSpan(c)?.setAttribute(ORDER_ID_ATTR, orderId);
    await next();
  };
  orders.use("/:orderId", tagOrder);
  orders.use("/:orderId/*", tagOrder);

  orders.post(
    "/",
    describe("createOrder", "Create an order", {
      description:
        "Publishes ORDER_CREATED; payment, shipping and notification follow through events. Read your writes: once this " +
        "has answered, every /orders/{orderId} route knows the order.",
      parameters: [IDEMPOTENCY_KEY_PARAMETER],
      requestBody: { required: true, content: { "application/json": { schema: schemaOf(CreateOrderBody) } } },
      responses: {
        201: { ...jsonResponse("Created.", CreatedOrderBody, LOCATION), links: ORDER_LINKS },
        200: {
          ...jsonResponse("A repeat (same Idempotency-Key, same body): the first request's order.", CreatedOrderBody, LOCATION),
          links: ORDER_LINKS,
        },
        ...problems({
          ...BODY_PROBLEMS,
          400: `${BODY_PROBLEMS[400]} Or the Idempotency-Key is not 1-255 printable ASCII characters.`,
          422: `${BODY_PROBLEMS[422]} Or the Idempotency-Key was already used with another request body (type …/idempotency-key-reused).`,
          ...STORE_FULL,
        }),
      },
    }),
    async (c) => {
      const body = await readJsonBody(c, CreateOrderBody);
      const rt = runtime();
      const key = c.req.header("idempotency-key");
      // At a site the id names it (shared/ids.ts): ids and subjects of several sites never meet at the hub.
      const site = config.topology.kind === "site" ? config.topology.site : undefined;
      const orderId = key === undefined ? newOrderId(site) : await claimOrderId(rt.idempotencyKeys, key, body, newOrderId(site));
      requestSpan(c)?.setAttribute(ORDER_ID_ATTR, orderId);
      const published = await rt.infra.publisher.publish(decideCreate({ orderId, ...body }), requestTrace(c));
      // The order's first log line (the services log one per event they handle: nats/partition/event-runner.ts).
      rt.infra.log.info(
        {
          orderId,
          eventType: "ORDER_CREATED",
          seq: published.seq,
          duplicate: published.duplicate,
          userId: body.userId,
          ...traceFields(requestSpan(c)),
        },
        published.duplicate ? "order already accepted (repeated request)" : "order accepted",
      );
      c.header("location", `/orders/${orderId}`);
      return c.json(
        { orderId, status: "CREATED", traceId: traceIdOf(published.traceparent) } satisfies CreatedOrder,
        published.duplicate ? 200 : 201,
      );
    },
  );

  orders.get(
    "/:orderId",
    describe("getOrder", "The order's current view", {
      ...byId,
      description: "Folded from the order's events in the stream on every read.",
      responses: { 200: jsonResponse("The view.", OrderViewBody), ...unknownOrder },
    }),
    async (c) => {
      const rt = runtime();
      const history = await historyOf(rt, c.req.param("orderId"));
      const view = viewFrom(history, c.req.param("orderId"));
      const hub = rt.infra.hubLink ? await rt.infra.hubLink.hubStatus(history) : undefined;
      return c.json({ ...publicView(view), ...(hub ? { hub } : {}) } satisfies OrderViewAnswer);
    },
  );

  orders.get(
    "/:orderId/events",
    describe("getOrderEvents", "The order's events in stream order", {
      parameters: [ORDER_ID_PARAMETER, FROM_SEQ_PARAMETER],
      responses: {
        200: jsonResponse("The events, oldest first.", OrderEventsBody),
        ...problems({ 400: "fromSeq is not a whole number ≥ 0." }),
        ...unknownOrder,
      },
    }),
    async (c) => {
      // An id not of the issued form is 404 whatever the query says.
      if (!isOrderId(c.req.param("orderId"))) throw notFound(c.req.param("orderId"));
      const raw = c.req.query("fromSeq");
      // Decimal digits only: Number() would also take "", " 7", "0x10" and "1e3" (schemathesis found "").
      const fromSeq = raw === undefined ? 0 : /^[0-9]{1,16}$/.test(raw) ? Number(raw) : NaN;
      if (!Number.isSafeInteger(fromSeq)) {
        throw new HttpProblem(400, "bad-from-seq", "fromSeq must be a stream sequence: a whole number ≥ 0.");
      }
      const history = await historyOf(runtime(), c.req.param("orderId"));
      return c.json(history.filter((e) => e.seq >= fromSeq).map(eventRecord) satisfies OrderEventsAnswer);
    },
  );

  orders.post(
    "/:orderId/cancel",
    describe("cancelOrder", "Ask to cancel the order", {
      ...byId,
      description:
        "Publishes ORDER_CANCEL_REQUESTED; the compensation runs (refund if paid, then ORDER_CANCELLED with CUSTOMER_REQUEST). " +
        "If shipping wins the race the order ends SHIPPING_READY instead. No body needed.",
      responses: {
        202: jsonResponse("Accepted: the cancel is on its way.", CancelAcceptedBody),
        ...unknownOrder,
        ...problems({
          409: "The order is SHIPPING_READY or CANCELLED already, or it was placed at a site (cancel it there).",
          ...STORE_FULL,
        }),
      },
    }),
    async (c) => {
      const rt = runtime();
      const orderId = c.req.param("orderId");
      // Decided on the stream itself, not the (possibly lagging) view.
      const history = await historyOf(rt, orderId);
      const view = foldOrder(history.map((e) => e.event));
      if (!view) throw notFound(orderId);
      const site = siteOfOrderId(orderId);
      if (site !== undefined && !(config.topology.kind === "site" && config.topology.site === site)) {
        // A site's customer decisions are taken at the site (nats/subjects.ts SITE_ORIGIN_TYPES):
        // published here they would race the site's own for the same subject.
        throw new HttpProblem(
          409,
          "order-at-another-site",
          `Order ${orderId} was placed at site ${site}: cancel it through that site's order API.`,
        );
      }
      const decision = decideCancel(view);
      if (decision.kind === "too-late") {
        throw new HttpProblem(409, "order-not-cancellable", `Order ${orderId} is ${decision.status} and can no longer be cancelled.`);
      }
      // A cancelled order's first trace (its creation, payment, maybe shipping) is kept whole too.
      const orderTrace = traceIdOf(history[0]?.traceparent);
      if (orderTrace) keepTrace(orderTrace);
      await rt.infra.publisher.publish(decision.event, requestTrace(c));
      // decideCancel accepts only orders not yet SHIPPING_READY or CANCELLED.
      const status = view.status as CancelAccepted["status"];
      return c.json({ orderId, status, cancelRequested: true } satisfies CancelAccepted, 202);
    },
  );

  orders.get(
    "/:orderId/trace",
    describe("getOrderTrace", "The order's trace, from Jaeger", {
      ...byId,
      responses: {
        200: jsonResponse("The trace; `spans` is null with a `warning` (still 200) when Jaeger does not answer.", OrderTraceBody),
        ...unknownOrder,
      },
    }),
    async (c) => {
      const orderId = c.req.param("orderId");
      const rt = runtime();
      const history = await historyOf(rt, orderId);
      const traceId = traceIdOf(history[0]?.traceparent);
      if (!traceId) {
        return c.json({
          orderId,
          traceId: null,
          jaegerUrl: null,
          spans: null,
          warning: "The order's first event carries no traceparent header.",
        } satisfies OrderTraceAnswer);
      }
      const lookup = await fetchTrace({ baseUrl: config.jaegerQueryUrl, traceId });
      return c.json({ orderId, ...lookup, spans: lookup.spans } satisfies OrderTraceAnswer);
    },
  );

  // The timeline page: events and view from the stream itself (so they agree), the trace when Jaeger
  // answers, the log lines when VictoriaLogs does (both asked at once, each with its own timeout).
  orders.get(
    "/:orderId/view",
    describe("getOrderTimelinePage", "The order's timeline page", {
      ...byId,
      responses: {
        200: {
          description: "An HTML page: the order's events in order, its trace waterfall and its log lines.",
          content: { "text/html": { schema: { type: "string" } } },
        },
        ...unknownOrder,
      },
    }),
    async (c) => {
      const orderId = c.req.param("orderId");
      const history = await historyOf(runtime(), orderId);
      const traceId = traceIdOf(history[0]?.traceparent);
      const [lookup, logs] = await Promise.all([
        traceId ? fetchTrace({ baseUrl: config.jaegerQueryUrl, traceId }) : null,
        config.victoriaLogsQueryUrl ? fetchOrderLogs({ baseUrl: config.victoriaLogsQueryUrl, orderId }) : ("not-configured" as const),
      ]);
      const hub = runtime().infra.hubLink ? await runtime().infra.hubLink!.hubStatus(history) : undefined;
      const page = renderOrderTimelinePage({
        orderId,
        order: foldOrder(history.map((e) => e.event)),
        events: history,
        trace: lookup,
        logs,
        hub,
      });
      return c.body(page, 200, {
        "content-type": "text/html; charset=utf-8",
        "cache-control": "no-store",
        // No script at all, inline styles only: a value that slipped through escaping still could not run.
        "content-security-policy":
          "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
      });
    },
  );

  app.route("/orders", orders);
}
