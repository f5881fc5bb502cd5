// The services' AsyncAPI documents (nats/asyncapi.ts), served without NATS like /openapi.json:
// each passes the official AsyncAPI parser (@asyncapi/parser: schema validation and its Spectral
// rules, offline), its addresses are the subjects the publishers use, its operations are what each
// service sends and receives, and its message schemas accept the events the code publishes.
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Parser, DiagnosticSeverity } from "@asyncapi/parser";
import { PubHeaders } from "@nats-io/jetstream";
import { describe, expect, it } from "vitest";
import { Ajv } from "ajv";
import * as ajvFormats from "ajv-formats";
import type { Hono } from "hono";
import { loadConfig } from "../shared/config.ts";
import { createLogger } from "../shared/logger.ts";
import { createService } from "../host/service-host.ts";
import { serviceDefinitions } from "../services/registry.ts";
import { EVENT_TYPES, type EventDraft, type EventType } from "../shared/events.ts";
import { SERVICES, type ServiceName } from "../shared/services.ts";
import { completeEvent } from "../nats/publish-event.ts";
import { ASYNCAPI_VERSION, generateAsyncApiDocument } from "../nats/asyncapi.ts";
import {
  CONSUMED_EVENT_TYPES,
  eventSubject,
  Header,
  notificationSubject,
  parseEventSubject,
  partitionOf,
  PUBLISHED_EVENT_TYPES,
} from "../nats/subjects.ts";
import { notificationFor } from "../services/notification/domain/notification.ts";

type Json = Record<string, any>;
type FormatsPlugin = (ajv: Ajv) => Ajv;
// ajv-formats is CommonJS: its default export arrives as `default` or as the module itself.
const addFormats: FormatsPlugin =
  (ajvFormats as unknown as { default?: FormatsPlugin }).default ?? (ajvFormats as unknown as FormatsPlugin);
const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");

function appOf(name: ServiceName): Hono {
  const config = loadConfig(name, { NATS_URL: "nats://127.0.0.1:9" });
  return createService({ definition: serviceDefinitions[name], config, log: createLogger(`${name}-service`, "silent") }).app;
}

async function served(name: ServiceName): Promise<Json> {
  const res = await appOf(name).request("/asyncapi.json");
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toMatch(/^application\/json/);
  return (await res.json()) as Json;
}

/** The parser's errors and warnings (its hints, such as "a newer AsyncAPI version exists", left out). */
async function problemsOf(doc: unknown): Promise<string[]> {
  const { diagnostics } = await new Parser().parse(JSON.stringify(doc));
  return diagnostics
    .filter((d) => d.severity === DiagnosticSeverity.Error || d.severity === DiagnosticSeverity.Warning)
    .map((d) => `${d.code}: ${d.message} at ${d.path.join("/")}`);
}

const ORDER_ID = "0b9a8f8e-3c1d-4a5e-9f7a-2d6c1b0e4f11";
const base = { orderId: ORDER_ID, userId: "user-42" };
/** One draft of every event type, as the services' domains make them. */
const DRAFTS: Record<EventType, EventDraft> = {
  ORDER_CREATED: { eventType: "ORDER_CREATED", ...base, amount: 20, currency: "EUR", items: [{ sku: "A-1", quantity: 2, unitPrice: 10 }] },
  PAYMENT_COMPLETED: { eventType: "PAYMENT_COMPLETED", ...base, paymentId: "pay-1", amount: 20, currency: "EUR" },
  PAYMENT_FAILED: { eventType: "PAYMENT_FAILED", ...base, reason: "declined" },
  SHIPPING_READY: { eventType: "SHIPPING_READY", ...base, shippingId: "ship-1" },
  SHIPPING_FAILED: { eventType: "SHIPPING_FAILED", ...base, reason: "unavailable: A-1", unavailableSkus: ["A-1"] },
  ORDER_CANCEL_REQUESTED: { eventType: "ORDER_CANCEL_REQUESTED", ...base },
  PAYMENT_REFUNDED: { eventType: "PAYMENT_REFUNDED", ...base, paymentId: "pay-1", amount: 20, currency: "EUR", reason: "CUSTOMER_REQUEST" },
  ORDER_CANCELLED: { eventType: "ORDER_CANCELLED", ...base, cancelReason: "CUSTOMER_REQUEST" },
};

/** An address with its `{parameters}` filled in. */
const fill = (address: string, values: Record<string, string>) =>
  address.replace(/\{(\w+)\}/g, (_, name: string) => values[name] ?? `{${name}}`);

/** `$ref` → the object it points at in `doc`. */
const at = (doc: Json, ref: string): Json =>
  ref
    .slice(2)
    .split("/")
    .reduce((node: Json, key) => node[key.replaceAll("~1", "/").replaceAll("~0", "~")], doc);

describe.each(SERVICES)("the %s service's AsyncAPI document", (name) => {
  it(`is served at GET /asyncapi.json and passes the official AsyncAPI parser (AsyncAPI ${ASYNCAPI_VERSION})`, async () => {
    const doc = await served(name);
    expect(doc).toEqual(generateAsyncApiDocument(name, { version: doc.info.version }));
    expect(doc.asyncapi).toBe("3.0.0");
    expect(await problemsOf(doc)).toEqual([]);
  }, 30_000);

  it("receives what its consumers are delivered and sends what it publishes, each on its event's channel, in both subject forms", () => {
    const doc = generateAsyncApiDocument(name, { version: "1.0.0" }) as Json;
    const ops = Object.values<Json>(doc.operations);
    const ofSite = (o: Json) => (at(doc, o.channel.$ref).address as string).startsWith("sites.");
    const typesOf = (action: string, site: boolean) =>
      ops
        .filter((o) => o.action === action && ofSite(o) === site)
        .flatMap((o) => o.messages.map((m: Json) => at(doc, m.$ref)))
        .map((m: Json) => at(doc, m.$ref).name as string)
        .sort();
    expect(typesOf("receive", false)).toEqual([...CONSUMED_EVENT_TYPES[name]].sort());
    expect(typesOf("receive", true)).toEqual([...CONSUMED_EVENT_TYPES[name]].sort());
    const sends = [...PUBLISHED_EVENT_TYPES[name], ...(name === "notification" ? ["NOTIFICATION"] : [])].sort();
    expect(typesOf("send", false)).toEqual(sends);
    // Notifications of a site's order have the plain form (notifications.<userId>.<orderId>.<type>).
    expect(typesOf("send", true)).toEqual([...PUBLISHED_EVENT_TYPES[name]].sort());
    for (const op of ops) {
      // An operation's messages are its channel's (AsyncAPI 3): the $ref goes through the channel.
      for (const m of op.messages) expect(m.$ref.startsWith(`${op.channel.$ref}/messages/`)).toBe(true);
    }
  });
});

describe("the AsyncAPI channels and messages", () => {
  const all = SERVICES.map((s) => generateAsyncApiDocument(s, { version: "1.0.0" }) as Json);
  const channel = (key: string): Json => all.map((d) => d.channels[key]).find(Boolean);
  const message = (key: string): Json => all.map((d) => d.components.messages[key]).find(Boolean);

  it("have the subjects' addresses, parameters for partition and orderId, filled the way the publishers fill them", () => {
    expect(channel("ORDER_CREATED").address).toBe("orders.{partition}.{orderId}.ORDER_CREATED");
    expect(channel("notifications").address).toBe("notifications.{userId}.{orderId}.{eventType}");
    for (const type of EVENT_TYPES) {
      const c = channel(type);
      expect(Object.keys(c.parameters).sort()).toEqual(["orderId", "partition"]);
      expect(fill(c.address, { partition: String(partitionOf(ORDER_ID)), orderId: ORDER_ID })).toBe(eventSubject(ORDER_ID, type));
    }
    expect(fill(channel("notifications").address, { userId: "user-42", orderId: ORDER_ID, eventType: "SHIPPING_READY" })).toBe(
      notificationSubject("user-42", ORDER_ID, "SHIPPING_READY"),
    );
    const partition = all[0]!.components.parameters.partition;
    expect(partition.enum).toContain(String(partitionOf(ORDER_ID)));
  });

  it("have a site form of every event's channel, sites.{site}.orders.{partition}.{orderId}.<TYPE>, filled the way a site's publisher fills it", () => {
    const siteOrderId = `edge1-${ORDER_ID}`;
    expect(channel("site-ORDER_CREATED").address).toBe("sites.{site}.orders.{partition}.{orderId}.ORDER_CREATED");
    for (const type of EVENT_TYPES) {
      const c = channel(`site-${type}`);
      expect(Object.keys(c.parameters).sort()).toEqual(["orderId", "partition", "site"]);
      const filled = fill(c.address, { site: "edge1", partition: String(partitionOf(siteOrderId)), orderId: siteOrderId });
      expect(filled).toBe(eventSubject(siteOrderId, type));
      expect(parseEventSubject(filled)).toEqual({ partition: partitionOf(siteOrderId), orderId: siteOrderId, eventType: type });
      // The same message as the plain form: a site's events are the same events.
      expect(c.messages).toEqual(channel(type).messages);
    }
    const { site, orderId } = all[0]!.components.parameters;
    expect(site.examples).toContain("edge1");
    expect(orderId.examples).toContain(siteOrderId);
  });

  it("describe the NATS headers every event carries", () => {
    const headers = all[0]!.components.schemas.EventHeaders;
    expect(Object.keys(headers.properties)).toEqual(
      expect.arrayContaining([Header.traceparent, Header.tracestate, PubHeaders.MsgIdHdr, PubHeaders.ExpectedLastSubjectSequenceHdr]),
    );
    expect(headers.properties[PubHeaders.MsgIdHdr].description).toContain("eventId");
    for (const type of EVENT_TYPES) expect(message(type).headers).toEqual({ $ref: "#/components/schemas/EventHeaders" });
  });

  it("have payload schemas that accept every event as published and refuse a broken one", () => {
    const ajv = new Ajv({ strict: true, allErrors: true });
    addFormats(ajv);
    for (const type of EVENT_TYPES) {
      const validate = ajv.compile(message(type).payload);
      const event = completeEvent(DRAFTS[type]);
      expect(validate(event), `${type}: ${ajv.errorsText(validate.errors)}`).toBe(true);
      const { orderId: _, ...withoutOrderId } = event;
      expect(validate(withoutOrderId), type).toBe(false);
      expect(validate({ ...event, eventType: type === "ORDER_CREATED" ? "PAYMENT_FAILED" : "ORDER_CREATED" }), type).toBe(false);
    }
    const notification = ajv.compile(message("NOTIFICATION").payload);
    const n = notificationFor(completeEvent(DRAFTS.SHIPPING_READY), new Date());
    expect(notification(n), ajv.errorsText(notification.errors)).toBe(true);
    expect(notification({ ...n, sentAt: "yesterday" })).toBe(false);
  });

  it('list as each service\'s sends exactly the event types its code builds (services/<name>/, `eventType: "…"`)', () => {
    const sourcesOf = (dir: string): string[] =>
      readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
        e.isDirectory() ? sourcesOf(join(dir, e.name)) : e.name.endsWith(".ts") && !e.name.includes(".spec.") ? [join(dir, e.name)] : [],
      );
    for (const name of SERVICES) {
      const built = new Set<string>();
      for (const file of sourcesOf(join(root, "services", name))) {
        for (const m of readFileSync(file, "utf8").matchAll(/eventType: "([A-Z_]+)"/g)) built.add(m[1]!);
      }
      expect([...built].sort(), name).toEqual([...PUBLISHED_EVENT_TYPES[name]].sort());
    }
  });

  it("the parser refuses a site channel whose {site} has no parameter (the check can fail)", async () => {
    const doc = generateAsyncApiDocument("payment", { version: "1.0.0" }) as Json;
    delete doc.channels["site-ORDER_CREATED"].parameters.site;
    expect((await problemsOf(doc)).join("\n")).toContain("Missed: site");
  }, 30_000);

  it("the parser refuses a document whose operation points at no channel (the check can fail)", async () => {
    const doc = generateAsyncApiDocument("payment", { version: "1.0.0" }) as Json;
    doc.operations.sendPaymentCompleted.channel = { $ref: "#/channels/NOPE" };
    expect((await problemsOf(doc)).join("\n")).toContain("#/channels/NOPE");
  }, 30_000);
});
