/**
 * The services' OpenAPI 3.1 documents, generated from the routes themselves: each route carries a
 * `describeRoute(...)` whose request and response schemas are the valibot schemas the route
 * validates with and answers by, and `GET /openapi.json` walks the app's routes (hono-openapi) and
 * converts those schemas to JSON Schema 2020-12, OpenAPI 3.1's dialect (@valibot/to-json-schema).
 *
 * Why hono-openapi: it is the generator Hono's own docs point to, maintained, on valibot 1.x
 * through valibot's official converter, and it only documents — it does not take over validation
 * (the routes keep `readJsonBody`, whose 415/413/400/422 answers docs/reference/http-api.md#errors lists). Its few
 * dependencies are small and need no build step; it bundles with esbuild and runs on Deno.
 * See docs/operations.md, "The API documents".
 */
import * as v from "valibot";
import type { Hono } from "hono";
import { describeRoute, generateSpecs, resolver, type DescribeRouteOptions } from "hono-openapi";
import { ProblemSchema, FieldErrorSchema } from "./problem.ts";
import { renderApiDocsPage } from "./api-docs-page.ts";

export { describeRoute, type DescribeRouteOptions };

/** An OpenAPI 3.1 document as the services serve it. */
export type OpenApiDocument = Awaited<ReturnType<typeof generateSpecs>>;
type Responses = NonNullable<DescribeRouteOptions["responses"]>;
type ResponseObject = Exclude<Responses[string], { $ref: string }>;
type HeaderObject = Exclude<NonNullable<ResponseObject["headers"]>[string], { $ref: string }>;
type SchemaObject = NonNullable<HeaderObject["schema"]>;

/**
 * How every valibot schema becomes JSON Schema: the 2020-12 dialect (OpenAPI 3.1's own), the
 * schemas' output side (a request body's pipe starts with a "not an array" check that JSON Schema
 * cannot say; its output is the object the route reads), and checks that JSON Schema cannot
 * express (the amount's 2 decimals, the items' sum) left to the schema's descriptions.
 */
const CONVERSION = { options: { target: "draft-2020-12", typeMode: "output", errorMode: "ignore" } };

/**
 * The JSON Schema of a valibot schema, for a `content` entry of `describeRoute`.
 *
 * @example
 * { "application/json": { schema: schemaOf(CreateOrderBody) } }
 */
export function schemaOf(schema: v.GenericSchema): ReturnType<typeof resolver> {
  return resolver(schema, CONVERSION);
}

/**
 * A JSON answer described by its valibot schema.
 *
 * @example
 * responses: { 200: jsonResponse("The order view.", OrderViewBody) }
 */
export function jsonResponse(description: string, schema: v.GenericSchema, headers?: Record<string, HeaderObject>): ResponseObject {
  return { description, ...(headers ? { headers } : {}), content: { "application/json": { schema: schemaOf(schema) } } };
}

/** A response header given as a plain string. */
export function header(description: string, schema: SchemaObject = { type: "string" }, required = true): HeaderObject {
  return { description, required, schema };
}

/** Headers that travel with some problems: the schema of each answer's extra header. */
const PROBLEM_HEADERS: Partial<Record<number, Record<string, HeaderObject>>> = {
  401: { "WWW-Authenticate": header('Always `Bearer realm="orderstream"`.') },
  503: { "Retry-After": header("Seconds to wait before retrying.", { type: "string", pattern: "^[0-9]+$" }) },
  507: { "Retry-After": header("Seconds to wait before retrying.", { type: "string", pattern: "^[0-9]+$" }) },
};

/** The problem schema of one status (its `status` is that number), named in components. */
function problemSchema(status: number): v.GenericSchema {
  if (status === 422) {
    return v.pipe(
      v.object({ ...ProblemSchema.entries, status: v.literal(422), errors: v.pipe(v.array(FieldErrorSchema), v.minLength(1)) }),
      v.metadata({ ref: "ValidationProblem" }),
    );
  }
  return v.pipe(v.object({ ...ProblemSchema.entries, status: v.literal(status) }), v.metadata({ ref: `Problem${status}` }));
}

/**
 * `application/problem+json` answers, one per status, each with what it means on this route.
 *
 * @example
 * responses: { ...problems({ 404: "No such order." }) }
 */
export function problems(meanings: Partial<Record<number, string>>): Responses {
  const out: Responses = {};
  for (const [key, description] of Object.entries(meanings)) {
    const status = Number(key);
    const headers = PROBLEM_HEADERS[status];
    out[key] = {
      description: description!,
      ...(headers ? { headers } : {}),
      content: { "application/problem+json": { schema: schemaOf(problemSchema(status)) } },
    };
  }
  return out;
}

/** The answers of every route that reads a JSON body (shared/http/json-body.ts). */
export const BODY_PROBLEMS = {
  400: "The body is empty or not JSON.",
  413: "The body is over 64 KiB.",
  415: "The Content-Type is not application/json (or another `+json` type).",
  422: "The body does not match the schema: `errors` lists every failing path.",
} as const;

/** The answer of every route that needs NATS, while NATS does not answer (or before the service is ready). */
export const UNAVAILABLE = {
  503: "NATS did not answer in time, or the service is not connected yet; retry after `Retry-After` seconds.",
} as const;

/** A server the document lists (OpenAPI's Server Object); `{name}` in the URL is a variable. */
export interface ApiServer {
  url: string;
  description: string;
  variables?: Record<string, { default: string; description?: string }>;
}

/**
 * The first server of every document: `/`, which OpenAPI resolves against where the document was
 * fetched from — the very service that answered, whatever host, port or proxy the client used (an
 * absolute URL built from the Host header would be wrong behind a proxy, and the same for every
 * client, as the document is generated once).
 */
export const SAME_ORIGIN_SERVER: ApiServer = { url: "/", description: "This service: where this document was fetched from." };
/** The answer of every route that writes to JetStream, while the store has no room (shared/store-refusal.ts). */
export const STORE_FULL = {
  507: "The event store is full (JetStream refused the write for lack of room; the detail names the server's reason); nothing was written. Retry after `Retry-After` seconds with the same Idempotency-Key.",
} as const;

/** What the document says about the service as a whole. */
export interface ApiInfo {
  title: string;
  description: string;
  version: string;
  /** Bearer auth in force on some routes (their operations name it in `security`). */
  bearerAuth?: boolean;
  /** Documented addresses of the service, listed after {@link SAME_ORIGIN_SERVER}. */
  servers?: ApiServer[];
}

const JsonObject = v.pipe(v.record(v.string(), v.unknown()), v.description("The service's OpenAPI 3.1 document."));

/**
 * Mounts `GET /openapi.json` (the document of every route of `app`, these two included) and
 * `GET /docs` (a page rendering it, no script, nothing loaded from elsewhere). Call it after the
 * other routes are mounted; the document is generated once, on the first request.
 *
 * @example
 * serveApiDocuments(app, { title: "order service", description: "…", version: "0.1.0" })
 */
export function serveApiDocuments(app: Hono, info: ApiInfo): void {
  let document: Promise<OpenApiDocument> | undefined;
  const documentOf = (): Promise<OpenApiDocument> => {
    document ??= generateApiDocument(app, info).catch((err: unknown) => {
      document = undefined; // a failure is not remembered
      throw err;
    });
    return document;
  };
  app.get(
    "/openapi.json",
    describeRoute({
      tags: ["documentation"],
      summary: "This API's OpenAPI 3.1 document",
      responses: { 200: jsonResponse("The document.", JsonObject) },
    }),
    async (c) => c.json(await documentOf()),
  );
  app.get(
    "/docs",
    describeRoute({
      tags: ["documentation"],
      summary: "This API's documentation as a web page",
      responses: {
        200: { description: "An HTML page rendering /openapi.json.", content: { "text/html": { schema: { type: "string" } } } },
      },
    }),
    async (c) =>
      c.body(renderApiDocsPage(await documentOf()), 200, {
        "content-type": "text/html; charset=utf-8",
        // No script; the page's own styles only.
        "content-security-policy":
          "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
      }),
  );
}

/** The OpenAPI 3.1 document of `app`'s described routes. */
export async function generateApiDocument(app: Hono, info: ApiInfo): Promise<OpenApiDocument> {
  const spec = await generateSpecs(app, {
    documentation: {
      info: { title: info.title, description: info.description, version: info.version },
      servers: [SAME_ORIGIN_SERVER, ...(info.servers ?? [])],
      jsonSchemaDialect: "https://json-schema.org/draft/2020-12/schema",
      ...(info.bearerAuth
        ? { components: { securitySchemes: { bearerAuth: { type: "http", scheme: "bearer", description: "ORDER_API_TOKEN" } } } }
        : {}),
    },
    // /openapi.json is a route, not a static file.
    excludeStaticFile: false,
  });
  // The generator adds `tags: undefined` when none are declared at the top; drop empty keys.
  return JSON.parse(JSON.stringify(spec)) as OpenApiDocument;
}
