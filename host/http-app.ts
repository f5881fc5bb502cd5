/**
 * One service's HTTP app: SERVER spans, request metrics, security headers and a deadline
 * (shared/http/hardening.ts); /healthz, /readyz, /metrics, the service's own routes, /asyncapi.json,
 * /openapi.json and /docs; 404 and 405 answers, and every error as problem+json. Web-standard only:
 * the runtime entry (host/runtime/) opens the port.
 */
import { Hono, type Context } from "hono";
import { routePath } from "hono/route";
import { HTTPException } from "hono/http-exception";
import { httpServerSpans, requestSpan } from "../otel/http-server-span.ts";
import { DEFAULT_PORTS, type ServiceConfig } from "../shared/config.ts";
import { traceFields, type Logger } from "../shared/logger.ts";
import { HttpProblem, problemResponse } from "../shared/http/problem.ts";
import { hardening, storeFullProblem, unavailableProblem } from "../shared/http/hardening.ts";
import { storeRefusal } from "../shared/store-refusal.ts";
import { describeRoute, jsonResponse, serveApiDocuments, type ApiServer } from "../shared/http/openapi.ts";
import { allowedMethods } from "../shared/http/allowed-methods.ts";
import { generateAsyncApiDocument, type AsyncApiDocument } from "../nats/asyncapi.ts";
import type { ServiceName } from "../nats/subjects.ts";
import type { ServiceMetrics } from "./metrics.ts";
import type { ServiceState } from "./nats-lifecycle.ts";
import type { ServiceDefinition, ServiceOptions } from "./service-definition.ts";
import { AsyncApiBody, HealthBody, ReadinessBody, type Health, type Readiness } from "./http-schemas.ts";

/** Where a service answers by default on the machine that runs it (PORT unset, as `npm start` runs it). */
export function defaultServer(service: ServiceName): ApiServer {
  return {
    url: "http://localhost:{port}",
    description: `The ${service} service's default address on the machine that runs it (npm start; PORT unset).`,
    variables: { port: { default: String(DEFAULT_PORTS[service]), description: "The service's PORT." } },
  };
}

/** The version of the HTTP API the documents describe (not the package's). */
export const API_VERSION = "1.0.0";

const NOT_READY = new HttpProblem(503, "not-ready", "The service is not connected to NATS yet; retry shortly.");
NOT_READY.headers.set("retry-after", "1");

export interface HttpAppOptions<R> {
  definition: ServiceDefinition<R>;
  config: ServiceConfig;
  log: Logger;
  metrics: ServiceMetrics;
  /** The NATS side: readiness, and the service's runtime once connected (host/nats-lifecycle.ts). */
  state: ServiceState<R>;
  connection?: ServiceOptions<R>["connection"];
}

export function createHttpApp<R>(opts: HttpAppOptions<R>): Hono {
  const { definition, config, log, metrics, state } = opts;
  const app = new Hono();
  app.use(httpServerSpans({ connection: opts.connection }));
  app.use(async (c, next) => {
    const started = performance.now();
    await next();
    metrics.httpAnswered(c.req.method, routePath(c), String(c.res.status), (performance.now() - started) / 1000);
  });
  // Security headers on every answer (errors included) and a 10 s deadline: shared/http/hardening.ts.
  app.use(...hardening());
  app.get(
    "/healthz",
    describeRoute({
      tags: ["operations"],
      summary: "Liveness: 200 while the process runs",
      responses: { 200: jsonResponse("The process runs.", HealthBody) },
    }),
    (c) => c.json({ status: "ok", service: config.service } satisfies Health),
  );
  app.get(
    "/readyz",
    describeRoute({
      tags: ["operations"],
      summary: "Readiness: 200 only while connected to NATS with the consumers bound",
      responses: {
        200: jsonResponse("Ready.", ReadinessBody),
        503: jsonResponse("Not ready (yet, or any more): not connected to NATS, still starting, or draining.", ReadinessBody),
      },
    }),
    (c) => {
      const ok = state.ready();
      const report = state.readiness()?.report();
      const body: Readiness = {
        status: ok ? "ready" : "not ready",
        nats: report?.checks.nats.ok ? "connected" : "disconnected",
        ...(report ? { checks: report.checks } : {}),
      };
      return c.json(body, ok ? 200 : 503);
    },
  );
  app.get(
    "/metrics",
    describeRoute({
      tags: ["operations"],
      summary: "Prometheus metrics (text exposition format)",
      responses: {
        200: { description: "The metrics; docs/operations.md lists them.", content: { "text/plain": { schema: { type: "string" } } } },
      },
    }),
    async (c) => {
      c.header("content-type", metrics.registry.contentType);
      return c.body(await metrics.registry.metrics());
    },
  );
  definition.routes?.(
    app,
    () => {
      const runtime = state.connectedRuntime();
      if (runtime === undefined) throw NOT_READY;
      return runtime;
    },
    config,
  );
  let asyncApi: AsyncApiDocument | undefined;
  app.get(
    "/asyncapi.json",
    describeRoute({
      tags: ["documentation"],
      summary: "The AsyncAPI 3.0 document of the events this service sends and receives over NATS",
      responses: { 200: jsonResponse("The document (nats/asyncapi.ts).", AsyncApiBody) },
    }),
    (c) => c.json((asyncApi ??= generateAsyncApiDocument(config.service, { version: API_VERSION }))),
  );
  const api = definition.api?.(config);
  serveApiDocuments(app, {
    title: `orderstream ${config.service} service`,
    description: api?.description ?? `The ${config.service} service's operational routes.`,
    version: API_VERSION,
    bearerAuth: api?.bearerAuth,
    servers: [defaultServer(config.service)],
  });
  // A fixed path (/healthz, /orders, …) asked with another method is 405 with `Allow` (RFC 9110);
  // anything else, /orders/{id} with another method included, is 404 (shared/http/allowed-methods.ts).
  let allowed: ((path: string) => string[]) | undefined;
  app.notFound((c) => {
    allowed ??= allowedMethods(app.routes);
    const methods = allowed(c.req.path);
    if (methods.length > 0 && !methods.includes(c.req.method)) {
      const problem = new HttpProblem(
        405,
        "method-not-allowed",
        `${JSON.stringify(c.req.path.slice(0, 200))} answers ${methods.join(", ")} only.`,
      );
      problem.headers.set("allow", methods.join(", "));
      return problemResponse(problem, c.req.path);
    }
    return problemResponse(new HttpProblem(404, "not-found", `No route for ${c.req.method} ${JSON.stringify(c.req.path.slice(0, 200))}.`));
  });
  app.onError((err, c: Context) => {
    if (err instanceof HttpProblem) return problemResponse(err, c.req.path);
    // Hono's middleware (hono/bearer-auth) throws its answer in an HTTPException: the routes build
    // those answers as problem+json; one without its own Response becomes one here.
    if (err instanceof HTTPException) {
      return err.res
        ? err.getResponse()
        : problemResponse(new HttpProblem(err.status, "http-error", err.message || "The request was refused."), c.req.path);
    }
    const full = storeFullProblem(err);
    if (full) {
      const refusal = storeRefusal(err)!;
      state.readiness()?.storeRefused(refusal);
      log.warn(
        { err, path: c.req.path, code: refusal.code, ...traceFields(requestSpan(c)) },
        "the event store is full: a write was refused",
      );
      return problemResponse(full, c.req.path);
    }
    const unavailable = unavailableProblem(err);
    if (unavailable) {
      log.warn({ err, path: c.req.path, ...traceFields(requestSpan(c)) }, "NATS did not answer a request in time");
      return problemResponse(unavailable, c.req.path);
    }
    // Never leak internals: the log has the detail, the client a reference to the trace.
    log.error({ err, path: c.req.path, ...traceFields(requestSpan(c)) }, "unhandled error in a route");
    return problemResponse(new HttpProblem(500, "internal", "The request failed on our side; it has been logged."));
  });
  return app;
}
