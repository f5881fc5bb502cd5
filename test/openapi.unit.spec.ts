// The services' OpenAPI documents, without NATS (a service's app answers /openapi.json before it is
// started): each is valid OpenAPI 3.1, its schemas are valid JSON Schema 2020-12, it describes
// exactly the routes the app has, its request body is the valibot schema the route validates
// with, and /docs renders it from nothing but the page itself. test/openapi.int.spec.ts checks the
// answers of the running services against the documents; test/schemathesis.int.spec.ts fuzzes them.
import { describe, expect, it } from "vitest";
import { Validator } from "@seriousme/openapi-schema-validator";
import * as v from "valibot";
import type { Hono } from "hono";
import { DEFAULT_PORTS, loadConfig } from "../shared/config.ts";
import { createLogger } from "../shared/logger.ts";
import { createService } from "../host/service-host.ts";
import { serviceDefinitions } from "../services/registry.ts";
import { SERVICES, type ServiceName } from "../shared/services.ts";
import { CreateOrderBody } from "../services/order/http-schemas.ts";
import { allowedMethods } from "../shared/http/allowed-methods.ts";
import { schemaOf } from "../shared/http/openapi.ts";
import { createAjv, deref, mismatches, operationsOf } from "./support/openapi-conformance.ts";

type Json = Record<string, any>;

/** A service's app, not started: no NATS is needed for the document or the answers before NATS. */
function appOf(name: ServiceName, env: Record<string, string> = {}): Hono {
  const config = loadConfig(name, { NATS_URL: "nats://127.0.0.1:9", ...env });
  return createService({ definition: serviceDefinitions[name], config, log: createLogger(`${name}-service`, "silent") }).app;
}

async function documentOf(app: Hono): Promise<Json> {
  const res = await app.request("/openapi.json");
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toMatch(/^application\/json/);
  return (await res.json()) as Json;
}

const VARIANTS: Array<{ label: string; name: ServiceName; env?: Record<string, string> }> = [
  ...SERVICES.map((name) => ({ label: name, name })),
  { label: "order with ORDER_API_TOKEN", name: "order", env: { ORDER_API_TOKEN: "s3cret" } },
];

describe.each(VARIANTS)("the $label service's OpenAPI document", ({ name, env }) => {
  it("is valid OpenAPI 3.1, and every schema in it is valid JSON Schema 2020-12", async () => {
    const doc = await documentOf(appOf(name, env));
    const validator = new Validator();
    const result = await validator.validate(doc);
    expect(result, JSON.stringify(result.errors, null, 2)).toEqual({ valid: true });
    expect(validator.version).toBe("3.1");
    expect(doc.openapi).toMatch(/^3\.1\./);
    expect(doc.info.title).toBe(`orderstream ${name} service`);
    const ajv = createAjv();
    for (const { template, method, op } of operationsOf(doc)) {
      const schemas = [
        ...(op.parameters ?? []).map((p: Json) => p.schema),
        ...Object.values<Json>(op.requestBody?.content ?? {}).map((m) => m.schema),
        ...Object.values<Json>(op.responses ?? {}).flatMap((r) => Object.values<Json>(r.content ?? {}).map((m) => m.schema)),
      ].filter(Boolean);
      for (const schema of schemas) expect(() => ajv.compile(deref(schema, doc)), `${method} ${template}`).not.toThrow();
    }
  });

  it("describes exactly the routes the app answers, each with an operationId and its answers", async () => {
    const app = appOf(name, env);
    const doc = await documentOf(app);
    const routes = new Set(
      app.routes.filter((r) => r.method !== "ALL").map((r) => `${r.method.toLowerCase()} ${r.path.replace(/:([A-Za-z0-9_]+)/g, "{$1}")}`),
    );
    const described = operationsOf(doc);
    expect(new Set(described.map((o) => `${o.method} ${o.template}`))).toEqual(routes);
    for (const path of ["/healthz", "/readyz", "/metrics", "/openapi.json", "/docs"]) expect(doc.paths[path]?.get, path).toBeDefined();
    const ids = described.map((o) => o.op.operationId);
    expect(new Set(ids).size).toBe(ids.length);
    for (const { template, method, op } of described) {
      const where = `${method} ${template}`;
      expect(Object.keys(op.responses).length, where).toBeGreaterThan(0);
      for (const [status, response] of Object.entries<Json>(op.responses)) {
        expect(response.description, `${where} ${status}`).toBeTruthy();
        // Every error is problem+json; the one exception is /readyz's 503, which is its JSON status.
        if (Number(status) >= 400 && template !== "/readyz") {
          expect(Object.keys(response.content ?? {}), `${where} ${status}`).toEqual(["application/problem+json"]);
          expect(deref(response.content["application/problem+json"].schema, doc).required, `${where} ${status}`).toEqual(
            expect.arrayContaining(["type", "title", "status", "detail"]),
          );
        }
      }
      if (op.responses["503"] && template !== "/readyz") expect(op.responses["503"].headers["Retry-After"], where).toBeDefined();
      if (op.responses["401"]) expect(op.responses["401"].headers["WWW-Authenticate"], where).toBeDefined();
      if (op.responses["422"])
        expect(deref(op.responses["422"].content["application/problem+json"].schema, doc).required).toContain("errors");
    }
    // The bearer token is in the document exactly when the API asks for it.
    const guarded = described.filter((o) => o.template.startsWith("/orders"));
    for (const { op } of guarded) {
      expect(op.security, op.operationId).toEqual(env?.ORDER_API_TOKEN ? [{ bearerAuth: [] }] : undefined);
      expect(op.responses["401"] !== undefined, op.operationId).toBe(env?.ORDER_API_TOKEN !== undefined);
    }
    expect(doc.components?.securitySchemes?.bearerAuth !== undefined).toBe(env?.ORDER_API_TOKEN !== undefined);
  });

  it("lists its servers: first `/` (where the document was fetched from), then its default address", async () => {
    const doc = await documentOf(appOf(name, env));
    expect(doc.servers).toEqual([
      { url: "/", description: expect.any(String) },
      {
        url: "http://localhost:{port}",
        description: expect.stringContaining(`${name} service`),
        variables: { port: { default: String(DEFAULT_PORTS[name]), description: expect.any(String) } },
      },
    ]);
    // `/` resolves against the document's own address: the service that served it, on any host or port.
    expect(new URL(doc.servers[0].url, "http://orders.example:8443/openapi.json").href).toBe("http://orders.example:8443/");
    const { url, variables } = doc.servers[1];
    expect(url.replace("{port}", variables.port.default)).toBe(`http://localhost:${DEFAULT_PORTS[name]}`);
  });

  it("serves /docs: the document as one HTML page that loads nothing from anywhere", async () => {
    const app = appOf(name, env);
    const doc = await documentOf(app);
    const res = await app.request("/docs");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(res.headers.get("content-security-policy")).toMatch(/default-src 'none'/);
    expect(res.headers.get("content-security-policy")).not.toMatch(/script-src/);
    const html = await res.text();
    expect(html).not.toMatch(/<script|<link|<img|<iframe|\bsrc=|@import|url\(/i);
    // Links only within the page and to the document itself.
    for (const [, href] of html.matchAll(/href="([^"]*)"/g)) expect(href).toMatch(/^(#[\w-]+|\/openapi\.json)$/);
    for (const { template, method } of operationsOf(doc)) {
      expect(html).toContain(`>${method.toUpperCase()}</span> <code>${template}</code>`);
    }
  });
});

describe("the order API's document and its validation are one", () => {
  it("describes POST /orders with the valibot schema the route validates with", async () => {
    const doc = await documentOf(appOf("order"));
    const described = doc.paths["/orders"].post.requestBody.content["application/json"].schema;
    const generated = await schemaOf(CreateOrderBody).toOpenAPISchema();
    expect(described).toEqual(JSON.parse(JSON.stringify(generated.schema)));
  });

  it("agrees with the route's schema on bodies (except the rules JSON Schema cannot state)", async () => {
    const doc = await documentOf(appOf("order"));
    const validate = createAjv().compile(deref(doc.paths["/orders"].post.requestBody.content["application/json"].schema, doc));
    const item = { sku: "A-1", quantity: 2, unitPrice: 2.5 };
    const bodies: Array<[unknown, boolean]> = [
      [{ userId: "u1", amount: 100 }, true],
      [{ userId: "u_1-x", amount: 5, currency: "EUR", items: [item] }, true],
      [{ userId: "u1", amount: 1, extra: true }, true],
      [{ userId: "", amount: 1 }, false],
      [{ userId: "u.1", amount: 1 }, false],
      [{ userId: "u".repeat(65), amount: 1 }, false],
      [{ userId: "u1" }, false],
      [{ amount: 1 }, false],
      [{ userId: "u1", amount: 0 }, false],
      [{ userId: "u1", amount: -1 }, false],
      [{ userId: "u1", amount: 1_000_000_001 }, false],
      [{ userId: "u1", amount: "1" }, false],
      [{ userId: "u1", amount: 1, currency: "usd" }, false],
      [{ userId: "u1", amount: 1, items: [{ ...item, quantity: 0 }] }, false],
      [{ userId: "u1", amount: 1, items: [{ ...item, quantity: 1.5 }] }, false],
      [{ userId: "u1", amount: 1, items: [{ ...item, sku: "a b" }] }, false],
      [{ userId: "u1", amount: 1, items: [{ sku: "A" }] }, false],
      [{ userId: "u1", amount: 1, items: "none" }, false],
      [null, false],
      ["text", false],
    ];
    for (const [body, valid] of bodies) {
      expect(validate(body), JSON.stringify(body)).toBe(valid);
      expect(v.safeParse(CreateOrderBody, body).success, JSON.stringify(body)).toBe(valid);
    }
    // The two rules only the route checks (described in the schema's text): the document lets
    // them through, the route answers 422.
    for (const body of [
      { userId: "u1", amount: 1.005 },
      { userId: "u1", amount: 4, items: [item] },
    ]) {
      expect(validate(body), JSON.stringify(body)).toBe(true);
      expect(v.safeParse(CreateOrderBody, body).success, JSON.stringify(body)).toBe(false);
    }
    expect(doc.paths["/orders"].post.requestBody.content["application/json"].schema.properties.amount.description).toMatch(
      /2 decimal places.*sum/,
    );
  });
});

describe("answers before NATS, checked against the document", () => {
  const json = { "content-type": "application/json" };
  const cases: Array<{
    name: ServiceName;
    env?: Record<string, string>;
    method: string;
    path: string;
    init?: RequestInit;
    status: number;
  }> = [
    { name: "order", method: "POST", path: "/orders", init: { headers: { "content-type": "text/plain" }, body: "{}" }, status: 415 },
    {
      name: "order",
      method: "POST",
      path: "/orders",
      init: { headers: json, body: JSON.stringify({ pad: "x".repeat(70_000) }) },
      status: 413,
    },
    { name: "order", method: "POST", path: "/orders", init: { headers: json, body: "{" }, status: 400 },
    { name: "order", method: "POST", path: "/orders", init: { headers: json, body: "" }, status: 400 },
    { name: "order", method: "POST", path: "/orders", init: { headers: json, body: '{"userId":"u1"}' }, status: 422 },
    { name: "order", method: "POST", path: "/orders", init: { headers: json, body: '{"userId":"u1","amount":1}' }, status: 503 },
    { name: "order", method: "GET", path: "/orders/3e9c6d5e-3d0c-4d7a-9f7e-5a0b0c0d0e0f", status: 503 },
    { name: "order", env: { ORDER_API_TOKEN: "s3cret" }, method: "GET", path: "/orders/3e9c6d5e-3d0c-4d7a-9f7e-5a0b0c0d0e0f", status: 401 },
    { name: "order", method: "GET", path: "/readyz", status: 503 },
    { name: "order", method: "GET", path: "/healthz", status: 200 },
    { name: "order", method: "GET", path: "/metrics", status: 200 },
    { name: "notification", method: "GET", path: "/users/u1/notifications", status: 503 },
    { name: "notification", method: "GET", path: "/users/u.1/notifications", status: 404 },
  ];

  it.each(cases)("$method $path → $status", async ({ name, env, method, path, init, status }) => {
    const app = appOf(name, env);
    const doc = await documentOf(app);
    const res = await app.request(path, { method, ...init });
    const answer = { status: res.status, headers: res.headers, text: await res.text() };
    expect(answer.status, answer.text).toBe(status);
    expect(mismatches(doc, createAjv(), { method, path }, answer)).toEqual([]);
  });
});

describe("a fixed path asked with another method", () => {
  it("is 405 problem+json with Allow; a path with an id, or an unknown one, stays 404", async () => {
    const app = appOf("order");
    for (const [method, path, allow] of [
      ["DELETE", "/healthz", "GET, HEAD"],
      ["POST", "/openapi.json", "GET, HEAD"],
      ["PUT", "/docs", "GET, HEAD"],
      ["GET", "/orders", "POST"],
      ["PATCH", "/metrics", "GET, HEAD"],
    ] as const) {
      const res = await app.request(path, { method });
      expect(res.status, `${method} ${path}`).toBe(405);
      expect(res.headers.get("allow")).toBe(allow);
      expect(res.headers.get("content-type")).toBe("application/problem+json");
      expect(await res.json()).toMatchObject({
        status: 405,
        title: "Method Not Allowed",
        type: "https://orderstream.dev/problems/method-not-allowed",
      });
    }
    // An id is 404 on every route when the order is unknown, whatever the method (docs/reference/http-api.md#errors).
    for (const [method, path] of [
      ["PUT", "/orders/3e9c6d5e-3d0c-4d7a-9f7e-5a0b0c0d0e0f"],
      ["GET", "/orders/3e9c6d5e-3d0c-4d7a-9f7e-5a0b0c0d0e0f/cancel"],
      ["POST", "/orders/./cancel"],
      ["DELETE", "/users/u1/notifications"],
      ["GET", "/nope"],
      ["GET", "/orders/"],
      ["GET", "/healthz/x"],
    ] as const) {
      const res = await app.request(path, { method });
      expect(res.status, `${method} ${path}`).toBe(404);
      expect(res.headers.get("allow")).toBeNull();
    }
    // HEAD is answered by the GET route.
    expect((await app.request("/healthz", { method: "HEAD" })).status).toBe(200);
  });

  it("reads the methods of the fixed paths from the route table", () => {
    const allowed = allowedMethods([
      { method: "ALL", path: "/orders/*" },
      { method: "ALL", path: "/healthz" },
      { method: "POST", path: "/orders" },
      { method: "GET", path: "/orders/:orderId" },
      { method: "POST", path: "/orders/:orderId/cancel" },
      { method: "GET", path: "/healthz" },
      { method: "GET", path: "/files/*" },
    ]);
    expect(allowed("/orders")).toEqual(["POST"]);
    expect(allowed("/healthz")).toEqual(["GET", "HEAD"]);
    expect(allowed("/orders/abc")).toEqual([]);
    expect(allowed("/orders/abc/cancel")).toEqual([]);
    expect(allowed("/files/a")).toEqual([]);
    expect(allowed("/other")).toEqual([]);
  });
});
