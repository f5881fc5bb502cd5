/**
 * docs/reference/http-api.md from the OpenAPI documents the services serve (shared/http/openapi.ts):
 * the routes every service has, then each service's own — parameters, request body, answers and
 * their fields — with a curl example whose body the document's own schema accepts.
 */
import { Ajv2020 } from "ajv/dist/2020.js";
import * as ajvFormats from "ajv-formats";
import { DEFAULT_PORTS } from "../../shared/config.ts";
import type { ServiceName } from "../../shared/services.ts";
import { code, deref, fieldTable, fieldsOf, generatedNote, githubSlug, table, typeOf } from "./markdown.ts";

// biome-ignore lint/suspicious/noExplicitAny: OpenAPI and AsyncAPI documents, walked as plain JSON
type Json = Record<string, any>;
type FormatsPlugin = (ajv: Ajv2020) => Ajv2020;
// ajv-formats is CommonJS: its default export arrives as `default` or as the module itself.
const addFormats: FormatsPlugin =
  (ajvFormats as unknown as { default?: FormatsPlugin }).default ?? (ajvFormats as unknown as FormatsPlugin);

/** What the page is made from: each service's document, and the order service's with ORDER_API_TOKEN set. */
export interface HttpSources {
  documents: Record<ServiceName, Json>;
  orderWithToken: Json;
}

/** Example values of path parameters, by name: ids of the form the API issues. */
const PATH_EXAMPLES: Record<string, string> = {
  orderId: "0b9a8f8e-3c1d-4a5e-9f7a-2d6c1b0e4f11",
  userId: "user-42",
};

/** Example request bodies, by operationId; each is checked against the document's schema. */
const BODY_EXAMPLES: Record<string, unknown> = {
  createOrder: { userId: "user-42", amount: 25, currency: "EUR", items: [{ sku: "A-1", quantity: 2, unitPrice: 12.5 }] },
};

/** Example query strings, by operationId. */
const QUERY_EXAMPLES: Record<string, string> = { getOrderEvents: "?fromSeq=1" };

interface Operation {
  method: string;
  path: string;
  op: Json;
}

function operationsOf(doc: Json): Operation[] {
  return Object.entries<Json>(doc.paths).flatMap(([path, item]) =>
    Object.entries<Json>(item).map(([method, op]) => ({ method: method.toUpperCase(), path, op })),
  );
}

const key = (o: Operation) => `${o.method} ${o.path}`;

/** Headings and their GitHub anchors, numbering repeats as GitHub does. */
class Anchors {
  private seen = new Map<string, number>();
  of(heading: string): string {
    const base = githubSlug(heading.replace(/`/g, ""));
    const n = this.seen.get(base) ?? 0;
    this.seen.set(base, n + 1);
    return n === 0 ? base : `${base}-${n}`;
  }
}

function curlOf(service: ServiceName, { method, path, op }: Operation, doc: Json): string {
  const url = `localhost:${DEFAULT_PORTS[service]}${path.replace(/\{(\w+)\}/g, (_, name: string) => PATH_EXAMPLES[name] ?? `<${name}>`)}${QUERY_EXAMPLES[op.operationId] ?? ""}`;
  // Quoted when it has a query: `?` is a glob character to the shell.
  const parts = ["curl -i", ...(method === "GET" ? [] : [`-X ${method}`]), url.includes("?") ? `'${url}'` : url];
  const body = BODY_EXAMPLES[op.operationId];
  const schema = op.requestBody?.content?.["application/json"]?.schema;
  if (schema && body === undefined) throw new Error(`${op.operationId} takes a body: give it an example in scripts/reference/http.ts`);
  if (schema) {
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    addFormats(ajv);
    const validate = ajv.compile(deref(schema, doc));
    if (!validate(body))
      throw new Error(`the example body of ${op.operationId} does not match its schema: ${ajv.errorsText(validate.errors)}`);
    parts.push(`\\\n  -H 'content-type: application/json'`, `\\\n  -d '${JSON.stringify(body)}'`);
  }
  return ["```bash", parts.join(" "), "```"].join("\n");
}

function parameterTable(op: Json, doc: Json): string {
  const rows = (op.parameters ?? []).map((p: Json) => [
    code(p.name),
    p.in,
    typeOf(p.schema ?? {}, doc),
    p.required ? "yes" : "no",
    p.description ?? "",
  ]);
  return rows.length ? table(["parameter", "in", "type", "required", "meaning"], rows) : "";
}

function responseTable(op: Json, doc: Json): string {
  const rows = Object.entries<Json>(op.responses).map(([status, raw]) => {
    const response = deref(raw, doc);
    const types = Object.keys(response.content ?? {});
    const headers = Object.keys(response.headers ?? {});
    return [status, response.description ?? "", types.map((t) => code(t)).join(", "), headers.map((h) => code(h)).join(", ")];
  });
  const withHeaders = rows.some((r) => r[3]);
  return table(
    ["status", "meaning", "body", ...(withHeaders ? ["headers"] : [])],
    rows.map((r) => (withHeaders ? r : r.slice(0, 3))),
  );
}

/** The fields of each 2xx JSON answer (one table per distinct body). */
function answerFields(op: Json, doc: Json): string[] {
  const out: string[] = [];
  const shown = new Set<string>();
  for (const [status, raw] of Object.entries<Json>(op.responses)) {
    if (!status.startsWith("2")) continue;
    const schema = deref(raw, doc).content?.["application/json"]?.schema;
    if (!schema) continue;
    const rows = fieldsOf(schema, doc);
    const fingerprint = JSON.stringify(rows);
    if (rows.length === 0 || shown.has(fingerprint)) continue;
    shown.add(fingerprint);
    const isArray = deref(schema, doc).type === "array";
    out.push(`The ${status} body${isArray ? ", an array (`[]` is each element)" : ""}:`, "", fieldTable(rows));
  }
  return out;
}

function operationSection(service: ServiceName, o: Operation, doc: Json, heading: string): string {
  const { op } = o;
  const parts = [`### ${heading}`, "", `**${o.method} ${code(o.path)}** — ${op.summary ?? ""}.`];
  if (op.description) parts.push("", op.description);
  const parameters = parameterTable(op, doc);
  if (parameters) parts.push("", parameters);
  const body = op.requestBody?.content?.["application/json"]?.schema;
  if (body) {
    const described = deref(body, doc).description;
    parts.push("", `Request body (\`application/json\`)${described ? `: ${described}` : ":"}`, "", fieldTable(fieldsOf(body, doc)));
  }
  parts.push("", curlOf(service, o, doc), "", responseTable(op, doc));
  const fields = answerFields(op, doc);
  if (fields.length) parts.push("", ...fields);
  return parts.join("\n");
}

const SERVICE_ORDER: readonly ServiceName[] = ["order", "payment", "shipping", "notification"];

/** The page. */
export function renderHttpReference({ documents, orderWithToken }: HttpSources): string {
  const anchors = new Anchors();
  const all = SERVICE_ORDER.map((s) => new Set(operationsOf(documents[s]).map(key)));
  const common = operationsOf(documents.order).filter((o) => all.every((set) => set.has(key(o))));
  const commonKeys = new Set(common.map(key));
  const heading = (o: Operation) => `${o.method} ${o.path}`;
  const validation = documents.order.components?.schemas?.ValidationProblem;
  const guarded = operationsOf(orderWithToken).filter((o) => o.op.security);

  const out: string[] = [
    generatedNote("the OpenAPI documents the services serve at GET /openapi.json"),
    "",
    "# HTTP API",
    "",
    "Every service serves its own OpenAPI 3.1 document at `GET /openapi.json` and the same as a page at `GET /docs`; this page is made from those documents. Ports are the defaults (`PORT`, [environment](environment.md)).",
    "",
    "| service | default address | its own routes |",
    "| --- | --- | --- |",
  ];
  const sections: string[] = [];
  const commonSection = ["## Every service", "", "Each of the four services answers these routes on its own port."];
  anchors.of("Errors");
  anchors.of("Every service");
  for (const o of common) {
    const h = heading(o);
    anchors.of(h);
    commonSection.push("", operationSection("order", o, documents.order, h));
  }
  for (const service of SERVICE_ORDER) {
    const doc = documents[service];
    const own = operationsOf(doc).filter((o) => !commonKeys.has(key(o)));
    const title = `The ${service} service`;
    const serviceAnchor = anchors.of(title);
    const lines = [`## ${title}`, "", doc.info?.description ?? ""];
    if (own.length === 0) lines.push("", "No routes besides [those of every service](#every-service): it works through events only.");
    const links: string[] = [];
    for (const o of own) {
      const h = heading(o);
      const anchor = anchors.of(h);
      links.push(`[${code(h)}](#${anchor})`);
      lines.push("", operationSection(service, o, doc, h));
    }
    if (service === "order" && guarded.length > 0) {
      lines.splice(
        3,
        0,
        "",
        `With \`ORDER_API_TOKEN\` set, ${guarded.map((o) => code(heading(o))).join(", ")} ask \`Authorization: Bearer <token>\` and answer 401 problem+json (with \`WWW-Authenticate\`) without it; the other routes stay open.`,
      );
    }
    out.push(`| [${service}](#${serviceAnchor}) | \`http://localhost:${DEFAULT_PORTS[service]}\` | ${links.join(", ") || "—"} |`);
    sections.push(lines.join("\n"));
  }
  out.push(
    "",
    "## Errors",
    "",
    "Every error is RFC 9457 `application/problem+json`. A route that takes a body answers 400 for malformed or empty JSON, 415 for another content type, 413 for a body over 64 KiB and 422 for a schema violation; an id the API did not issue is 404 on every route; a method a fixed path does not take is 405 with `Allow`; 503 (with `Retry-After`) while NATS does not answer. A 422 body:",
    "",
  );
  if (validation) out.push(fieldTable(fieldsOf(validation, documents.order)));
  out.push("", commonSection.join("\n"), "", sections.join("\n\n"), "");
  return out.join("\n");
}
