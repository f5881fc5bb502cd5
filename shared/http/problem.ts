/**
 * RFC 9457 problem details: every HTTP error leaves the services as `application/problem+json`
 * with `type, title, status, detail` (and `errors` for validation failures).
 */
export interface FieldError {
  path: string;
  message: string;
}

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance?: string;
  errors?: FieldError[];
}

const TITLES: Record<number, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  404: "Not Found",
  408: "Request Timeout",
  409: "Conflict",
  413: "Content Too Large",
  415: "Unsupported Media Type",
  422: "Unprocessable Content",
  500: "Internal Server Error",
  503: "Service Unavailable",
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
  problem.headers.forEach((value, key) => h.set(key, value));
  h.set("content-type", "application/problem+json");
  return new Response(JSON.stringify(problem.toProblem(instance)), { status: problem.status, headers: h });
}
