/**
 * What went wrong with a fetch or an HTTP request, in words a user can act on: "timeout",
 * "connection refused", "host name not found", "connection closed", or the innermost code or
 * message. Node puts the socket error in `cause` (ECONNREFUSED); Deno puts it in the message.
 * Web-standard only; the trace lookup, the log lookup and the log shipper all word failures with it.
 */
export function networkFailureReason(error: unknown): string {
  // DOMException is not an Error subclass on every runtime, so look at the name alone.
  if (isRecord(error) && (error.name === "TimeoutError" || error.name === "AbortError")) return "timeout";
  const texts: string[] = [];
  for (let e: unknown = error, depth = 0; e !== undefined && e !== null && depth < 5; depth++) {
    if (isRecord(e)) {
      if (typeof e.code === "string") texts.push(e.code);
      if (typeof e.message === "string") texts.push(e.message);
      e = e.cause;
    } else {
      texts.push(String(e));
      break;
    }
  }
  const all = texts.join(" ");
  if (/ECONNREFUSED|connection refused/i.test(all)) return "connection refused";
  if (/ENOTFOUND|EAI_AGAIN|dns|name resolution|failed to lookup/i.test(all)) return "host name not found";
  if (/ECONNRESET|connection reset|socket hang up|other side closed/i.test(all)) return "connection closed";
  return texts.at(-1) ?? "unknown error";
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
