/**
 * RFC 9457 problem details: every HTTP error leaves the services as `application/problem+json`
 * with `type, title, status, detail` (and `errors` for validation failures).
 */
import * as v from "valibot";

/** One failing path of a 422 answer. */
export const FieldErrorSchema = v.object({
  path: v.pipe(v.string(), v.description("Dot path of the failing field ('' for the body itself).")),
  message: v.string(),
});
export type FieldError = v.InferOutput<typeof FieldErrorSchema>;

/**
 * The problem document every error answer carries (RFC 9457); its OpenAPI description is generated
 * from this schema, so the document and the answers cannot drift apart.
 */
export const ProblemSchema = v.object({
  type: v.pipe(v.string(), v.url(), v.description("https://orderstream.dev/problems/<kind>: what went wrong, stable for programs.")),
  title: v.pipe(v.string(), v.description("The status's reason phrase.")),
  status: v.pipe(v.number(), v.integer(), v.minValue(400), v.maxValue(599)),
  detail: v.pipe(v.string(), v.description("What happened, for a person; names no internals.")),
  instance: v.optional(v.pipe(v.string(), v.description("The request path."))),
  errors: v.optional(v.array(FieldErrorSchema)),
});
export type Problem = v.InferOutput<typeof ProblemSchema>;

/** A 422 problem: `errors` lists every failing path. */
export const ValidationProblemSchema = v.object({
  ...ProblemSchema.entries,
  status: v.literal(422),
  errors: v.pipe(v.array(FieldErrorSchema), v.minLength(1)),
});

const TITLES: Record<number, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  404: "Not Found",
  405: "Method Not Allowed",
  408: "Request Timeout",
  409: "Conflict",
  413: "Content Too Large",
  415: "Unsupported Media Type",
  422: "Unprocessable Content",
  500: "Internal Server Error",
  503: "Service Unavailable",
  507: "Insufficient Storage",
};

/** An error that becomes a problem response; throw it from any route. */
export class HttpProblem extends Error {
  readonly status: number;
  readonly slug: string;
  readonly errors?: FieldError[];
  /** Extra response headers (WWW-Authenticate, Retry-After): headers set on the context are lost on errors. */
  readonly headers = new Headers();

  constructor(status: number, slug: string, detail: string, errors?: FieldError[]) {
    super(detail);
    this.name = "HttpProblem";
    this.status = status;
    this.slug = slug;
    this.errors = errors;
  }

  toProblem(instance?: string): Problem {
    return {
      type: `https://orderstream.dev/problems/${this.slug}`,
      title: TITLES[this.status] ?? "Error",
      status: this.status,
      detail: this.message,
      ...(instance ? { instance } : {}),
      ...(this.errors ? { errors: this.errors } : {}),
    };
  }
}

/** A Response carrying a problem document. */
export function problemResponse(problem: HttpProblem, instance?: string, headers?: HeadersInit): Response {
  const h = new Headers(headers);
  problem.headers.forEach((value, key) => {
    h.set(key, value);
  });
  h.set("content-type", "application/problem+json");
  return new Response(JSON.stringify(problem.toProblem(instance)), { status: problem.status, headers: h });
}
