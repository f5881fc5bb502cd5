/**
 * One trace per order (issue 3): the four services run as processes exporting OTLP/HTTP to a
 * receiver on loopback; an order's spans must form one tree rooted at its POST, linked across
 * services through the traceparent header each event carries.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { consumerName, laneOf, partitionOf, type ServiceName } from "../nats/subjects.ts";
import { consumersOf as consumerLabelsOf, processSpanName, publishSpanName, spanCount } from "./support/trace-shape.ts";
import { startWebhookReceiver, type WebhookReceiver, type WebhookRequest } from "./support/webhook-receiver.ts";
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from "./support/otlp-receiver.ts";
import { waitUntil } from "./support/processes.ts";
import { eventTypes, getJson, postOrder, startSystem, waitForStatus, type System } from "./support/system.ts";

const SERVER = 2;
const CLIENT = 3;
const PRODUCER = 4;
const CONSUMER = 5;
const STATUS_ERROR = 2;
const SERVICE_NAMES = ["order-service", "payment-service", "shipping-service", "notification-service"] as const;
type ServiceLabel = (typeof SERVICE_NAMES)[number];
/** Longer than a few OTEL_BSP_SCHEDULE_DELAYs: a span ended before the wait is exported by then. */
const SETTLE_MS = 1_000;

const FLAKY_USER = "flaky-user";

interface StoredEventView {
  seq: number;
  subject: string;
  eventType: string;
  data: { eventId: string; orderId: string };
  traceparent: string | null;
}

/** Who publishes an event, and from which span: the HTTP request, or a service's CONSUMER span of an earlier event. */
interface ChainLink {
  eventType: string;
  producer: ServiceLabel;
  parent: "http" | { eventType: string; service: ServiceLabel };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The services delivered an event type (their consumers' filters): each makes one CONSUMER span of it. */
const consumersOf = (eventType: string) => consumerLabelsOf(eventType) as ServiceLabel[];

function describeSpans(spans: ReceivedSpan[]): string {
  return spans
    .map((s) => `${s.serviceName} k=${s.kind} "${s.name}" span=${s.spanId} parent=${s.parentSpanId ?? "-"} status=${s.status.code}`)
    .join("\n");
}

function isSendOf(span: ReceivedSpan, eventType: string): boolean {
  return span.kind === PRODUCER && span.name === publishSpanName(eventType);
}

/** CONSUMER spans of `eventType` whose parent is `parent`. */
function processSpansUnder(spans: ReceivedSpan[], parent: ReceivedSpan, eventType: string): ReceivedSpan[] {
  return spans.filter((s) => s.kind === CONSUMER && s.name === processSpanName(eventType) && s.parentSpanId === parent.spanId);
}

/**
 * Waits until the order's trace holds its POST span, a publish span per event of the chain, a
 * process span of every service under each and `clientSpans` webhook POSTs, then lets late exports
 * land and returns the trace.
 */
async function collectOrderTrace(
  receiver: OtlpReceiver,
  traceId: string,
  chain: string[],
  clientSpans: number,
  extra: (spans: ReceivedSpan[]) => boolean = () => true,
): Promise<ReceivedSpan[]> {
  const ofTrace = (all: ReceivedSpan[]) => all.filter((s) => s.traceId === traceId);
  await receiver
    .waitFor((all) => {
      const spans = ofTrace(all);
      if (!spans.some((s) => s.kind === SERVER && s.name === "POST /orders")) return false;
      const complete = chain.every((eventType) =>
        spans
          .filter((s) => isSendOf(s, eventType))
          .some((send) => {
            const services = new Set(processSpansUnder(spans, send, eventType).map((s) => s.serviceName));
            return consumersOf(eventType).every((name) => services.has(name));
          }),
      );
      return complete && spans.filter((s) => s.kind === CLIENT).length >= clientSpans && extra(spans);
    }, 30_000)
    .catch((err: Error) => {
      throw new Error(`${err.message.split(";")[0]}; trace ${traceId} so far:\n${describeSpans(ofTrace(receiver.spans()))}`);
    });
  await sleep(SETTLE_MS);
  return ofTrace(receiver.spans());
}

/** The invariants every order trace keeps, whatever its outcome. */
function expectOneTree(all: ReceivedSpan[], trace: ReceivedSpan[], traceId: string, orderId: string): ReceivedSpan {
  const context = `trace ${traceId}:\n${describeSpans(trace)}`;
  // No span of this order escaped into another trace. (Reads — GET /orders/{id}… — are their own
  // traces and carry the order id too, so that they can be found by it; they are not the order's.)
  const isRead = (s: ReceivedSpan) => s.kind === 2 && s.name.startsWith("GET ");
  const ofOrder = all.filter((s) => s.attributes["orderstream.order_id"] === orderId && !isRead(s));
  expect(ofOrder.length, context).toBeGreaterThan(0);
  expect(new Set(ofOrder.map((s) => s.traceId)), context).toEqual(new Set([traceId]));

  const ids = trace.map((s) => s.spanId);
  expect(new Set(ids).size, `span ids are unique in ${context}`).toBe(ids.length);
  expect(new Set(trace.map((s) => s.serviceName)), context).toEqual(new Set(SERVICE_NAMES));

  const roots = trace.filter((s) => s.parentSpanId === null);
  expect(
    roots.map((s) => s.name),
    `exactly one root in ${context}`,
  ).toEqual(["POST /orders"]);
  const root = roots[0]!;
  expect(root.kind).toBe(SERVER);
  expect(root.serviceName).toBe("order-service");
  expect(root.attributes).toMatchObject({
    "http.request.method": "POST",
    "http.route": "/orders",
    "http.response.status_code": 201,
    "url.path": "/orders",
    "url.scheme": "http",
    "server.address": "127.0.0.1",
    "network.protocol.version": "1.1",
  });
  expect(root.attributes["server.port"]).toEqual(expect.any(Number));
  expect(String(root.attributes["client.address"])).toMatch(/127\.0\.0\.1/);
  // A client attribute and a resource attribute: neither belongs on a SERVER span.
  expect(root.attributes["url.full"]).toBeUndefined();
  expect(root.attributes["service.name"]).toBeUndefined();

  const known = new Set(ids);
  const orphans = trace.filter((s) => s.parentSpanId !== null && !known.has(s.parentSpanId));
  expect(
    orphans.map((s) => `${s.serviceName} ${s.name}`),
    `spans whose parent is missing in ${context}`,
  ).toEqual([]);

  for (const span of trace.filter((s) => s.kind === PRODUCER || s.kind === CONSUMER)) {
    expect(span.attributes["orderstream.order_id"], `${span.serviceName} ${span.name}`).toBe(orderId);
    expect(span.attributes["messaging.system.name"]).toBe("nats");
    // Deprecated by the conventions aligned with (docs/operations.md, "Tracing").
    expect(span.attributes["messaging.system"]).toBeUndefined();
    // The span name carries the low-cardinality template, never the order id.
    expect(span.name).not.toContain(orderId);
  }
  return root;
}

/**
 * Checks the publish span of every stored event (attributes, parent, the traceparent stored with the
 * event) and the CONSUMER spans under it: one per service, each delivered once unless `redelivered`
 * says otherwise. Returns the send spans by event type.
 */
function expectChain(
  trace: ReceivedSpan[],
  root: ReceivedSpan,
  traceId: string,
  orderId: string,
  events: StoredEventView[],
  chain: ChainLink[],
  redelivered: { eventType: string; service: ServiceLabel; deliveries: number }[] = [],
): Map<string, ReceivedSpan> {
  const context = `trace ${traceId}:\n${describeSpans(trace)}`;
  expect(events.map((e) => e.eventType)).toEqual(chain.map((l) => l.eventType));
  expect(
    trace
      .filter((s) => s.kind === PRODUCER)
      .map((s) => s.name)
      .sort(),
    context,
  ).toEqual(chain.map((l) => publishSpanName(l.eventType)).sort());

  const sends = new Map<string, ReceivedSpan>();
  for (const [i, link] of chain.entries()) {
    const event = events[i]!;
    const what = publishSpanName(link.eventType);
    const matching = trace.filter((s) => isSendOf(s, link.eventType));
    expect(matching.length, `${what} in ${context}`).toBe(1);
    const send = matching[0]!;
    sends.set(link.eventType, send);

    expect(send.serviceName, what).toBe(link.producer);
    expect(send.attributes, what).toMatchObject({
      "messaging.system.name": "nats",
      "messaging.destination.name": event.subject,
      "messaging.destination.template": `orders.{partition}.{orderId}.${link.eventType}`,
      "messaging.destination.partition.id": String(partitionOf(orderId)),
      "messaging.operation.type": "send",
      "messaging.operation.name": "publish",
      "messaging.message.id": event.data.eventId,
      "messaging.nats.stream.sequence": event.seq,
      "orderstream.order_id": orderId,
    });
    expect(send.attributes["messaging.message.body.size"], what).toBeGreaterThan(0);
    expect(send.status.code, what).not.toBe(STATUS_ERROR);
    // The event carries this span as its parent: that is what ties the consumers into the tree.
    expect(event.traceparent, what).toMatch(new RegExp(`^00-${traceId}-${send.spanId}-[0-9a-f]{2}$`));

    const expectedParent =
      link.parent === "http"
        ? root
        : (() => {
            const { eventType, service } = link.parent;
            const parentSend = sends.get(eventType)!;
            const candidates = processSpansUnder(trace, parentSend, eventType).filter(
              (s) => s.serviceName === service && s.status.code !== STATUS_ERROR,
            );
            expect(candidates.length, `${service}'s process ${eventType} in ${context}`).toBe(1);
            return candidates[0]!;
          })();
    expect(send.parentSpanId, `${what}'s parent`).toBe(expectedParent.spanId);

    const consumers = processSpansUnder(trace, send, link.eventType);
    // Only the services whose consumers are filtered to this type are delivered it.
    expect(new Set(consumers.map((s) => s.serviceName)), `who processes ${link.eventType} in ${context}`).toEqual(
      new Set(consumersOf(link.eventType)),
    );
    for (const service of consumersOf(link.eventType)) {
      const mine = consumers
        .filter((s) => s.serviceName === service)
        .sort((a, b) => Number(a.attributes["messaging.nats.delivery_count"]) - Number(b.attributes["messaging.nats.delivery_count"]));
      const deliveries = redelivered.find((r) => r.eventType === link.eventType && r.service === service)?.deliveries ?? 1;
      const where = `${service}'s process ${link.eventType}`;
      expect(
        mine.map((s) => s.attributes["messaging.nats.delivery_count"]),
        `${where} in ${context}`,
      ).toEqual(Array.from({ length: deliveries }, (_, n) => n + 1));
      for (const span of mine) {
        expect(span.attributes, where).toMatchObject({
          "messaging.system.name": "nats",
          "messaging.destination.name": event.subject,
          "messaging.destination.template": `orders.{partition}.{orderId}.${link.eventType}`,
          "messaging.destination.partition.id": String(partitionOf(orderId)),
          "messaging.operation.type": "process",
          "messaging.operation.name": "process",
          "messaging.message.id": event.data.eventId,
          "messaging.consumer.group.name": consumerName(service.replace(/-service$/, "") as ServiceName, laneOf(partitionOf(orderId))),
          "messaging.nats.stream.sequence": event.seq,
          "messaging.message.body.size": send.attributes["messaging.message.body.size"],
          "orderstream.order_id": orderId,
        });
      }
      // Only the last delivery may succeed; earlier ones are the failures that caused the redelivery.
      expect(mine.at(-1)!.status.code, where).not.toBe(STATUS_ERROR);
    }
  }
  return sends;
}

/** A webhook receiver that answers 503 to the first ORDER_CREATED notification of FLAKY_USER, 204 otherwise. */
function startWebhook(): Promise<WebhookReceiver> {
  return startWebhookReceiver((request, earlier) => {
    const flakyCreated = (r: Pick<WebhookRequest, "body">) => r.body?.userId === FLAKY_USER && r.body?.eventType === "ORDER_CREATED";
    return flakyCreated(request) && !earlier.some(flakyCreated) ? 503 : 204;
  });
}

function attempts(webhook: WebhookReceiver, eventType: string, userId: string): WebhookRequest[] {
  return webhook.requests().filter((r) => r.body?.eventType === eventType && r.body?.userId === userId);
}

/**
 * The webhook hop: every POST of the order's notifications carries its event id as Idempotency-Key
 * and a traceparent of the order's trace whose parent id is a CLIENT span `POST` of notification,
 * itself a child of notification's CONSUMER span of that event, with the HTTP client attributes.
 * Returns the CLIENT spans in the order of the requests.
 */
function expectWebhookHop(trace: ReceivedSpan[], traceId: string, events: StoredEventView[], webhook: WebhookReceiver): ReceivedSpan[] {
  const context = `trace ${traceId}:\n${describeSpans(trace)}`;
  const orderIds = new Set(events.map((e) => e.data.orderId));
  const posts = webhook.requests().filter((r) => orderIds.has(String(r.body?.orderId)));
  expect(posts.map((p) => p.body?.eventType).filter((t, i, all) => all.indexOf(t) === i)).toEqual(events.map((e) => e.eventType));
  const hook = new URL(webhook.url);
  const clients = posts.map((post) => {
    const event = events.find((e) => e.data.eventId === post.body?.eventId)!;
    const what = `webhook POST of ${event.eventType}`;
    expect(post.method, what).toBe("POST");
    expect(post.headers["idempotency-key"], what).toBe(event.data.eventId);
    const match = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/.exec(String(post.headers.traceparent));
    expect(match, `${what}: traceparent ${post.headers.traceparent}`).not.toBeNull();
    expect(match![1], what).toBe(traceId);
    const client = trace.find((s) => s.spanId === match![2]);
    expect(client, `${what}: span ${match![2]} in ${context}`).toBeDefined();
    expect(client!.kind, what).toBe(CLIENT);
    expect(client!.name, what).toBe("POST");
    expect(client!.serviceName, what).toBe("notification-service");
    const parent = trace.find((s) => s.spanId === client!.parentSpanId);
    expect(parent?.kind, `${what}'s parent in ${context}`).toBe(CONSUMER);
    expect(parent?.serviceName, what).toBe("notification-service");
    expect(parent?.name, what).toBe(processSpanName(event.eventType));
    expect(client!.attributes, what).toMatchObject({
      "http.request.method": "POST",
      "url.full": webhook.url,
      "server.address": hook.hostname,
      "server.port": Number(hook.port),
      "http.response.status_code": post.status,
    });
    if (post.status >= 400) {
      expect(client!.status.code, what).toBe(STATUS_ERROR);
      expect(client!.attributes["error.type"], what).toBe(String(post.status));
      // A failed POST fails the delivery it belongs to.
      expect(parent!.status.code, what).toBe(STATUS_ERROR);
    } else {
      expect(client!.status.code, what).not.toBe(STATUS_ERROR);
      expect(client!.attributes["error.type"], what).toBeUndefined();
    }
    return client!;
  });
  expect(trace.filter((s) => s.kind === CLIENT).length, `CLIENT spans are the webhook POSTs in ${context}`).toBe(clients.length);
  return clients;
}

async function storedEvents(sys: System, orderId: string): Promise<StoredEventView[]> {
  const { status, body } = await getJson(`${sys.orderUrl}/orders/${orderId}/events`);
  expect(status).toBe(200);
  return body as StoredEventView[];
}

describe("one trace per order, exported over OTLP/HTTP", () => {
  let receiver: OtlpReceiver;
  let webhook: WebhookReceiver;
  let sys: System;

  beforeAll(async () => {
    receiver = await startOtlpReceiver();
    webhook = await startWebhook();
    sys = await startSystem({
      env: {
        OTEL_TRACES_EXPORTER: "otlp",
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
        OTEL_BSP_SCHEDULE_DELAY: "200",
        NOTIFY_WEBHOOK_URL: webhook.url,
      },
    });
  });

  afterAll(async () => {
    await sys?.stop();
    await webhook?.close();
    await receiver?.close();
  });

  it("a paid and shipped order is one tree: HTTP → ORDER_CREATED → payment → PAYMENT_COMPLETED → shipping → SHIPPING_READY", async () => {
    const posted = await postOrder(sys.orderUrl, {
      userId: "trace-happy",
      amount: 120,
      currency: "EUR",
      items: [{ sku: "A-1", quantity: 2, unitPrice: 60 }],
    });
    expect(posted.status).toBe(201);
    const { orderId, traceId } = posted.body as { orderId: string; traceId: string };
    expect(traceId).toMatch(/^[0-9a-f]{32}$/);
    await waitForStatus(sys.orderUrl, orderId, ["SHIPPING_READY"]);

    const chain: ChainLink[] = [
      { eventType: "ORDER_CREATED", producer: "order-service", parent: "http" },
      { eventType: "PAYMENT_COMPLETED", producer: "payment-service", parent: { eventType: "ORDER_CREATED", service: "payment-service" } },
      {
        eventType: "SHIPPING_READY",
        producer: "shipping-service",
        parent: { eventType: "PAYMENT_COMPLETED", service: "shipping-service" },
      },
    ];
    const trace = await collectOrderTrace(
      receiver,
      traceId,
      chain.map((l) => l.eventType),
      chain.length,
    );
    expect(receiver.rejected()).toEqual([]);

    const root = expectOneTree(receiver.spans(), trace, traceId, orderId);
    const events = await storedEvents(sys, orderId);
    expectChain(trace, root, traceId, orderId, events, chain);
    expect(expectWebhookHop(trace, traceId, events, webhook)).toHaveLength(3);

    // Each service is delivered only the event types it acts on (payment learns its own
    // PAYMENT_COMPLETED from the publish): 1 HTTP + 3 publishes + 3 + 2 + 1 process spans, and
    // notification's 3 webhook POSTs.
    expect(trace.length, describeSpans(trace)).toBe(
      spanCount(
        chain.map((l) => l.eventType),
        { webhook: true },
      ),
    );
    expect(trace.length).toBe(13);
    expect(trace.filter((s) => s.status.code === STATUS_ERROR)).toEqual([]);
    expect(trace.filter((s) => s.kind === CONSUMER).every((s) => s.attributes["messaging.nats.delivery_count"] === 1)).toBe(true);
  });

  it("a declined order's trace holds the PAYMENT_FAILED → ORDER_CANCELLED chain and nothing of shipping's", async () => {
    // Above the default PAYMENT_LIMIT (10000): the simulated provider declines it.
    const posted = await postOrder(sys.orderUrl, { userId: "trace-declined", amount: 25_000 });
    expect(posted.status).toBe(201);
    const { orderId, traceId } = posted.body as { orderId: string; traceId: string };
    const view = await waitForStatus(sys.orderUrl, orderId, ["CANCELLED"]);
    expect(view.cancelReason).toBe("PAYMENT_FAILED");

    const chain: ChainLink[] = [
      { eventType: "ORDER_CREATED", producer: "order-service", parent: "http" },
      { eventType: "PAYMENT_FAILED", producer: "payment-service", parent: { eventType: "ORDER_CREATED", service: "payment-service" } },
      { eventType: "ORDER_CANCELLED", producer: "order-service", parent: { eventType: "PAYMENT_FAILED", service: "order-service" } },
    ];
    const trace = await collectOrderTrace(
      receiver,
      traceId,
      chain.map((l) => l.eventType),
      chain.length,
    );
    const root = expectOneTree(receiver.spans(), trace, traceId, orderId);
    const events = await storedEvents(sys, orderId);
    expectChain(trace, root, traceId, orderId, events, chain);
    expectWebhookHop(trace, traceId, events, webhook);
    expect(
      trace.some((s) => /PAYMENT_COMPLETED|SHIPPING_READY/.test(s.name)),
      describeSpans(trace),
    ).toBe(false);
    expect(trace.length, describeSpans(trace)).toBe(
      spanCount(
        chain.map((l) => l.eventType),
        { webhook: true },
      ),
    );
  });

  it("a failed delivery is an error span with the exception, and its redelivery a sibling with delivery count 2", async () => {
    const posted = await postOrder(sys.orderUrl, { userId: FLAKY_USER, amount: 30 });
    expect(posted.status).toBe(201);
    const { orderId, traceId } = posted.body as { orderId: string; traceId: string };
    await waitForStatus(sys.orderUrl, orderId, ["SHIPPING_READY"]);

    const chain: ChainLink[] = [
      { eventType: "ORDER_CREATED", producer: "order-service", parent: "http" },
      { eventType: "PAYMENT_COMPLETED", producer: "payment-service", parent: { eventType: "ORDER_CREATED", service: "payment-service" } },
      {
        eventType: "SHIPPING_READY",
        producer: "shipping-service",
        parent: { eventType: "PAYMENT_COMPLETED", service: "shipping-service" },
      },
    ];
    const notificationRetried = (spans: ReceivedSpan[]) =>
      spans.some(
        (s) =>
          s.serviceName === "notification-service" &&
          s.name === processSpanName("ORDER_CREATED") &&
          s.attributes["messaging.nats.delivery_count"] === 2,
      );
    // Four POSTs: ORDER_CREATED's twice (503, then 204 on the redelivery), the other two once.
    const trace = await collectOrderTrace(
      receiver,
      traceId,
      chain.map((l) => l.eventType),
      chain.length + 1,
      notificationRetried,
    );
    const root = expectOneTree(receiver.spans(), trace, traceId, orderId);
    const events = await storedEvents(sys, orderId);
    const sends = expectChain(trace, root, traceId, orderId, events, chain, [
      { eventType: "ORDER_CREATED", service: "notification-service", deliveries: 2 },
    ]);
    expect(attempts(webhook, "ORDER_CREATED", FLAKY_USER).map((r) => r.status)).toEqual([503, 204]);
    const clients = expectWebhookHop(trace, traceId, events, webhook);
    expect(clients.map((c) => c.attributes["http.response.status_code"])).toEqual([503, 204, 204, 204]);

    const [failed, retried] = processSpansUnder(trace, sends.get("ORDER_CREATED")!, "ORDER_CREATED")
      .filter((s) => s.serviceName === "notification-service")
      .sort((a, b) => Number(a.attributes["messaging.nats.delivery_count"]) - Number(b.attributes["messaging.nats.delivery_count"]));
    expect(failed!.attributes["messaging.nats.delivery_count"]).toBe(1);
    expect(failed!.status.code).toBe(STATUS_ERROR);
    expect(failed!.status.message).toMatch(/503/);
    const exception = failed!.events.find((e) => e.name === "exception");
    expect(exception, JSON.stringify(failed!.events)).toBeDefined();
    expect(exception!.attributes["exception.type"]).toBe("WebhookError");
    expect(String(exception!.attributes["exception.message"])).toMatch(/503/);

    expect(retried!.attributes["messaging.nats.delivery_count"]).toBe(2);
    expect(retried!.status.code).not.toBe(STATUS_ERROR);
    expect(retried!.events.filter((e) => e.name === "exception")).toEqual([]);
    // Each attempt has its own CLIENT span under its own delivery: the 503 under the failed one.
    expect(clients[0]!.parentSpanId).toBe(failed!.spanId);
    expect(clients[1]!.parentSpanId).toBe(retried!.spanId);
    // The redelivery and its second POST.
    expect(trace.length, describeSpans(trace)).toBe(
      spanCount(
        chain.map((l) => l.eventType),
        { webhook: true },
      ) + 2,
    );
  });
});

describe("with OTEL_TRACES_EXPORTER=none", () => {
  let silent: OtlpReceiver;
  let webhook: WebhookReceiver;
  let sys: System;

  beforeAll(async () => {
    // Pointed at a receiver all the same: "none" must export nothing, not merely have nowhere to send.
    silent = await startOtlpReceiver();
    webhook = await startWebhookReceiver();
    sys = await startSystem({
      env: {
        OTEL_TRACES_EXPORTER: "none",
        OTEL_EXPORTER_OTLP_ENDPOINT: silent.url,
        OTEL_BSP_SCHEDULE_DELAY: "200",
        NOTIFY_WEBHOOK_URL: webhook.url,
      },
    });
  });

  afterAll(async () => {
    await sys?.stop();
    await webhook?.close();
    await silent?.close();
  });

  it("POST /orders still answers the trace id, and every event's traceparent carries it", async () => {
    const posted = await postOrder(sys.orderUrl, { userId: "trace-off", amount: 42 });
    expect(posted.status).toBe(201);
    const { orderId, traceId } = posted.body as { orderId: string; traceId: string };
    expect(traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(traceId).not.toMatch(/^0+$/);
    await waitForStatus(sys.orderUrl, orderId, ["SHIPPING_READY"]);

    const events = await storedEvents(sys, orderId);
    expect(events.map((e) => e.eventType)).toEqual(await eventTypes(sys.orderUrl, orderId));
    expect(events.map((e) => e.eventType)).toEqual(["ORDER_CREATED", "PAYMENT_COMPLETED", "SHIPPING_READY"]);
    const parents = events.map((e) => {
      const match = /^00-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$/.exec(e.traceparent ?? "");
      expect(match, `${e.eventType} traceparent ${e.traceparent}`).not.toBeNull();
      expect(match![1], e.eventType).toBe(traceId);
      return match![2];
    });
    // Three producers, three spans: the context moved on through each consumer, not just copied.
    expect(new Set(parents).size).toBe(3);

    // The webhook POSTs carry the order's trace id too, each under a span id of its own.
    // Notification POSTs each event after the order view has it: wait for the third.
    const posts = await waitUntil(
      async () => {
        const mine = webhook.requests().filter((r) => r.body?.orderId === orderId);
        return mine.length >= 3 ? mine : undefined;
      },
      { timeoutMs: 10_000, intervalMs: 50, what: `the webhook POSTs of ${orderId}` },
    );
    expect(posts.map((p) => p.body?.eventType)).toEqual(["ORDER_CREATED", "PAYMENT_COMPLETED", "SHIPPING_READY"]);
    const postParents = posts.map((p) => {
      const match = /^00-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$/.exec(String(p.headers.traceparent));
      expect(match, `${p.body?.eventType} POST traceparent ${p.headers.traceparent}`).not.toBeNull();
      expect(match![1]).toBe(traceId);
      return match![2];
    });
    expect(new Set([...parents, ...postParents]).size).toBe(6);

    await sleep(SETTLE_MS);
    expect(silent.spans()).toEqual([]);
  });
});
