/**
 * What went wrong with a fetch or an HTTP request, in words a user can act on: "timeout",
 * "connection refused", "host name not found", or the innermost code or message. Node puts the
 * socket error in `cause` (ECONNREFUSED); Deno puts it in the message. Web-standard only.
 */
export function networkFailureReason(error: unknown): string {
  if (typeof error === "object" && error !== null && ["TimeoutError", "AbortError"].includes((error as { name?: string }).name ?? ""))
    return "timeout";
  const texts: string[] = [];
  for (let e: unknown = error, depth = 0; e && depth < 4; depth++) {
    const rec = e as { code?: unknown; message?: unknown; cause?: unknown };
    if (typeof rec.code === "string") texts.push(rec.code);
    if (typeof rec.message === "string") texts.push(rec.message);
    e = rec.cause;
  }
  const all = texts.join(" ");
  if (/ECONNREFUSED|connection refused/i.test(all)) return "connection refused";
  if (/ENOTFOUND|EAI_AGAIN|dns|name resolution|failed to lookup/i.test(all)) return "host name not found";
  return texts.at(-1) ?? String(error);
}
