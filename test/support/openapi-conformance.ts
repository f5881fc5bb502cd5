/**
 * Checks answers against an OpenAPI 3.1 document: which operation a request hits, whether the
 * answer's status, Content-Type, headers and body are the ones the document describes. Bodies are
 * validated with Ajv's JSON Schema 2020-12 (OpenAPI 3.1's dialect) and its formats.
 */
import { Ajv2020 } from "ajv/dist/2020.js";
import * as ajvFormats from "ajv-formats";
import type { Ajv, ValidateFunction } from "ajv";

type FormatsPlugin = (ajv: Ajv) => Ajv;
// ajv-formats is CommonJS: its default export arrives as `default` or as the module itself.
const addFormats: FormatsPlugin =
  (ajvFormats as unknown as { default?: FormatsPlugin }).default ?? (ajvFormats as unknown as FormatsPlugin);

// biome-ignore lint/suspicious/noExplicitAny: OpenAPI documents, walked as plain JSON
type Json = Record<string, any>;

export interface Answer {
  status: number;
  headers: Headers;
  text: string;
}

export interface Operation {
  /** The document's path template, e.g. `/orders/{orderId}`. */
  template: string;
  method: string;
  op: Json;
}

const METHODS = ["get", "put", "post", "delete", "patch", "head", "options", "trace"];

/** Every operation of the document. */
export function operationsOf(doc: Json): Operation[] {
  const out: Operation[] = [];
  for (const [template, item] of Object.entries<Json>(doc.paths ?? {})) {
    for (const method of METHODS) if (item[method]) out.push({ template, method, op: item[method] });
  }
  return out;
}

function templatePattern(template: string): RegExp {
  const source = template
    .split(/(\{[^}]+\})/)
    .map((part) => (part.startsWith("{") ? "[^/]+" : part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")))
    .join("");
  return new RegExp(`^${source}$`);
}

/** The operation a request hits (literal paths win over templates), or undefined. */
export function operationFor(doc: Json, method: string, path: string): Operation | undefined {
  const pathOnly = path.split("?")[0]!;
  const candidates = operationsOf(doc).filter((o) => o.method === method.toLowerCase() && templatePattern(o.template).test(pathOnly));
  return candidates.find((o) => !o.template.includes("{")) ?? candidates[0];
}

/** Replaces `#/components/...` references by what they point at (the documents have no cycles). */
// biome-ignore-start lint/suspicious/noExplicitAny: an OpenAPI document, walked as plain JSON
export function deref(value: unknown, doc: Json, depth = 0): any {
  if (depth > 50) throw new Error("reference cycle");
  if (Array.isArray(value)) return value.map((v) => deref(v, doc, depth + 1));
  if (value === null || typeof value !== "object") return value;
  const obj = value as Json;
  if (typeof obj.$ref === "string" && obj.$ref.startsWith("#/")) {
    const target = obj.$ref
      .slice(2)
      .split("/")
      .reduce<any>((node, key) => node?.[key.replace(/~1/g, "/").replace(/~0/g, "~")], doc);
    if (target === undefined) throw new Error(`unresolved ${obj.$ref}`);
    return deref(target, doc, depth + 1);
  }
  return Object.fromEntries(Object.entries(obj).map(([k, v]) => [k, deref(v, doc, depth + 1)]));
}
// biome-ignore-end lint/suspicious/noExplicitAny: end of deref

/** A strict Ajv for JSON Schema 2020-12 with the standard formats. */
export function createAjv(): Ajv2020 {
  const ajv = new Ajv2020({ strict: true, allErrors: true, validateFormats: true });
  addFormats(ajv as unknown as Ajv);
  return ajv;
}

/**
 * Compares one answer with the document; returns what does not match (empty when it all does).
 * `validators` caches compiled schemas per document location.
 */
export function mismatches(
  doc: Json,
  ajv: Ajv2020,
  request: { method: string; path: string },
  answer: Answer,
  validators = new Map<string, ValidateFunction>(),
): string[] {
  const where = `${request.method} ${request.path} → ${answer.status}`;
  const operation = operationFor(doc, request.method, request.path);
  if (!operation) return [`${where}: no operation in the document`];
  const response = operation.op.responses?.[String(answer.status)];
  if (!response) return [`${where}: status not described for ${operation.method.toUpperCase()} ${operation.template}`];
  const out: string[] = [];
  for (const [name, header] of Object.entries<Json>(response.headers ?? {})) {
    const value = answer.headers.get(name);
    if (value === null) {
      if (header.required) out.push(`${where}: header ${name} missing`);
      continue;
    }
    const pattern = header.schema?.pattern;
    if (pattern && !new RegExp(pattern).test(value))
      out.push(`${where}: header ${name}: ${JSON.stringify(value)} does not match ${pattern}`);
  }
  const contentType = (answer.headers.get("content-type") ?? "").split(";")[0]!.trim().toLowerCase();
  const content = response.content as Json | undefined;
  if (!content) {
    if (answer.text.length > 0) out.push(`${where}: a body where the document describes none`);
    return out;
  }
  const media = content[contentType];
  if (!media) return [...out, `${where}: Content-Type ${contentType} not among ${Object.keys(content).join(", ")}`];
  if (!media.schema) return out;
  let body: unknown = answer.text;
  if (/json$/.test(contentType)) {
    try {
      body = JSON.parse(answer.text);
    } catch {
      return [...out, `${where}: body is not JSON`];
    }
  }
  const key = `${operation.method} ${operation.template} ${answer.status} ${contentType}`;
  let validate = validators.get(key);
  if (!validate) {
    validate = ajv.compile(deref(media.schema, doc));
    validators.set(key, validate);
  }
  if (!validate(body)) out.push(`${where}: body does not match: ${ajv.errorsText(validate.errors)}; body ${answer.text.slice(0, 300)}`);
  return out;
}
