// The shared HTTP hardening (shared/http/hardening.ts and the app of host/http-app.ts) without
// NATS: security headers on every answer, the request deadline, and error bodies that say nothing
// about internals.
import { describe, expect, it } from "vitest";
import { Hono } from "hono";
import { errors as natsErrors } from "@nats-io/transport-node";
import { API_CSP, hardening, requestTimeout, unavailableProblem } from "../shared/http/hardening.ts";
import { HttpProblem, problemResponse } from "../shared/http/problem.ts";
import { createService } from "../host/service-host.ts";
import type { ServiceDefinition } from "../host/service-definition.ts";
import { loadConfig } from "../shared/config.ts";
import { createLogger } from "../shared/logger.ts";
import { orderService } from "../services/order/service.ts";

function appWith(routes: (app: Hono) => void, timeoutMs = 10_000): Hono {
  const app = new Hono();
  app.use(...hardening({ timeoutMs }));
  routes(app);
  app.onError((err) => problemResponse(err instanceof HttpProblem ? err : new HttpProblem(500, "internal", "failed")));
  return app;
}

describe("hardening middleware", () => {
  it("puts the secure headers and a locked-down CSP on JSON answers and on errors", async () => {
    const app = appWith((a) => {
      a.get("/ok", (c) => c.json({ ok: true }));
      a.get("/fail", () => {
        throw new HttpProblem(409, "conflict", "no");
      });
    });
    for (const path of ["/ok", "/fail"]) {
      const res = await app.request(path);
      expect(res.headers.get("x-content-type-options"), path).toBe("nosniff");
      expect(res.headers.get("x-frame-options"), path).toBe("SAMEORIGIN");
      expect(res.headers.get("referrer-policy"), path).toBe("no-referrer");
      expect(res.headers.get("strict-transport-security"), path).toMatch(/max-age=/);
      expect(res.headers.get("content-security-policy"), path).toBe(API_CSP);
      expect(res.headers.get("x-powered-by"), path).toBeNull();
    }
  });

  it("leaves an HTML page's own CSP alone", async () => {
    const own = "default-src 'none'; style-src 'unsafe-inline'";
    const app = appWith((a) =>
      a.get("/page", (c) => c.body("<p>hi</p>", 200, { "content-type": "text/html", "content-security-policy": own })),
    );
    expect((await app.request("/page")).headers.get("content-security-policy")).toBe(own);
  });

  it("answers 503 problem+json with Retry-After when a request passes its deadline", async () => {
    const app = appWith((a) => a.get("/slow", () => new Promise<Response>(() => {})), 50);
    const res = await app.request("/slow");
    expect(res.status).toBe(503);
    expect(res.headers.get("content-type")).toBe("application/problem+json");
    expect(res.headers.get("retry-after")).toBe("1");
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    expect(await res.json()).toMatchObject({ status: 503, type: "https://orderstream.dev/problems/timeout" });
  });

  it("does not cut a request that answers in time", async () => {
    const app = new Hono();
    app.use(requestTimeout(1_000));
    app.get("/quick", async (c) => {
      await new Promise((r) => setTimeout(r, 20));
      return c.text("done");
    });
    const res = await app.request("/quick");
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("done");
  });

  it("maps NATS not answering (also when wrapped) to 503, and nothing else", () => {
    expect(unavailableProblem(new natsErrors.TimeoutError())?.status).toBe(503);
    expect(
      unavailableProblem(new natsErrors.RequestError("request failed", { cause: new natsErrors.NoRespondersError("$JS.API.INFO") }))
        ?.status,
    ).toBe(503);
    expect(unavailableProblem(new natsErrors.ClosedConnectionError())?.status).toBe(503);
    expect(unavailableProblem(new Error("boom"))).toBeNull();
    expect(unavailableProblem(new natsErrors.PermissionViolationError("Permissions Violation", "publish", "$JS.API.INFO"))).toBeNull();
    expect(unavailableProblem("not an error")).toBeNull();
  });
});

describe("the service app's error bodies", () => {
  const definition: ServiceDefinition<null> = {
    name: "order",
    setup: async () => null,
    handlers: () => () => ({ handle: async () => {}, forget: () => {} }),
    routes(app) {
      app.get("/boom", () => {
        throw new Error("secret internal detail at /work/main/x.ts:12:3");
      });
      app.get("/nats-timeout", () => {
        throw new natsErrors.TimeoutError();
      });
      app.get("/problem", () => {
        throw new HttpProblem(422, "validation", "bad");
      });
    },
  };
  const config = loadConfig("order", {});
  const app = createService({ definition, config, log: createLogger("test", "silent") }).app;

  it("says nothing about an unexpected error but that it was logged", async () => {
    const res = await app.request("/boom");
    expect(res.status).toBe(500);
    expect(res.headers.get("content-type")).toBe("application/problem+json");
    const text = await res.text();
    expect(text).not.toMatch(/secret|\/work\/|x\.ts|\w+Error\b|stack/);
    expect(JSON.parse(text)).toMatchObject({ status: 500, type: "https://orderstream.dev/problems/internal" });
  });

  it("answers 503 with Retry-After when NATS times out", async () => {
    const res = await app.request("/nats-timeout");
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBe("1");
    expect(await res.text()).not.toMatch(/TimeoutError|stack/);
  });

  it("keeps a route's own problem, with the security headers", async () => {
    const res = await app.request("/problem");
    expect(res.status).toBe(422);
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
  });

  it("answers unknown routes 404 without echoing a long path", async () => {
    const res = await app.request(`/${"a".repeat(5_000)}`);
    expect(res.status).toBe(404);
    expect((await res.text()).length).toBeLessThan(600);
  });

  it("leaves health, readiness and metrics open", async () => {
    expect((await app.request("/healthz")).status).toBe(200);
    expect((await app.request("/readyz")).status).toBe(503); // not started: no NATS
    expect((await app.request("/metrics")).status).toBe(200);
  });
});

describe("the order API behind ORDER_API_TOKEN (hono/bearer-auth)", () => {
  const TOKEN = "s3cret-token";
  const app = createService({
    definition: orderService,
    config: loadConfig("order", { ORDER_API_TOKEN: TOKEN }),
    log: createLogger("test", "silent"),
  }).app;
  const order = `/orders/${crypto.randomUUID()}`;

  it.each([
    ["no Authorization", undefined],
    ["another token", `Bearer ${TOKEN}x`],
    ["a prefix of it", `Bearer ${TOKEN.slice(0, -1)}`],
    ["another scheme", `Basic ${TOKEN}`],
    ["the token alone", TOKEN],
    ["Bearer and nothing", "Bearer"],
    ["a token Bearer cannot carry", "Bearer a b"],
    ["a hostile token", 'Bearer "<script>'],
  ])("given %s, then 401 problem+json with the Bearer challenge, and the route never runs", async (_, authorization) => {
    for (const [method, path] of [
      ["GET", order],
      ["POST", "/orders"],
      ["GET", `${order}/view`],
    ] as const) {
      const res = await app.request(path, { method, headers: authorization === undefined ? {} : { authorization } });
      expect(res.status, `${method} ${path}`).toBe(401);
      expect(res.headers.get("content-type")).toBe("application/problem+json");
      expect(res.headers.get("www-authenticate")).toBe('Bearer realm="orderstream"');
      expect(res.headers.get("x-content-type-options")).toBe("nosniff");
      expect(await res.json()).toMatchObject({
        status: 401,
        type: "https://orderstream.dev/problems/unauthorized",
        title: "Unauthorized",
        detail: expect.stringMatching(/Bearer/),
      });
    }
  });

  it.each([[`Bearer ${TOKEN}`], [`bearer ${TOKEN}`], [`Bearer   ${TOKEN}`]])(
    "given %j, then the request passes to the route (503 here: no NATS)",
    async (authorization) => {
      const res = await app.request(order, { headers: { authorization } });
      expect(res.status).toBe(503);
    },
  );

  it("leaves health, readiness, metrics and the API documents open", async () => {
    expect((await app.request("/healthz")).status).toBe(200);
    expect((await app.request("/readyz")).status).toBe(503); // not started: no NATS
    expect((await app.request("/metrics")).status).toBe(200);
    expect((await app.request("/openapi.json")).status).toBe(200);
    expect((await app.request("/docs")).status).toBe(200);
  });

  it("refuses at start a token no Bearer header could carry, saying what a token may hold", () => {
    expect(() =>
      createService({
        definition: orderService,
        config: loadConfig("order", { ORDER_API_TOKEN: "with space" }),
        log: createLogger("test", "silent"),
      }),
    ).toThrowError(/ORDER_API_TOKEN must be a bearer token/);
  });
});
