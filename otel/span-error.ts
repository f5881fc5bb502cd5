/**
 * A failed operation on its span, as the conventions record errors: the exception event, status
 * ERROR with the message, and `error.type` — the error's class name, low cardinality (a message
 * would not be).
 */
import { SpanStatusCode, type Span } from "@opentelemetry/api";
import { ATTR_ERROR_TYPE } from "@opentelemetry/semantic-conventions";

/** The class of an error for `error.type`: its name, or `_OTHER` when it has none. */
export function errorTypeOf(error: unknown): string {
  const name = typeof error === "object" && error !== null ? (error as { name?: unknown }).name : undefined;
  return typeof name === "string" && name !== "" ? name : "_OTHER";
}

/** Marks `span` as failed by `error`. */
export function recordSpanError(span: Span, error: unknown): void {
  const err = error instanceof Error ? error : new Error(String(error));
  span.recordException(err);
  span.setAttribute(ATTR_ERROR_TYPE, errorTypeOf(error));
  span.setStatus({ code: SpanStatusCode.ERROR, message: err.message });
}
