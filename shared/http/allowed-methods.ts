/**
 * Which methods a fixed path answers, from an app's route table: what a 405 answer's `Allow` header
 * lists (RFC 9110 §15.5.6) when such a path is asked with another method.
 *
 * Only paths without parameters count. Whether `/orders/{orderId}` exists depends on the id (the
 * API's rule: an unknown id, or one not of the issued form, is 404 on every route), so another method
 * there stays 404 — as it must for `/orders/./cancel`, which URL normalization turns into
 * `/orders/cancel`.
 */

/** A route as Hono's `app.routes` lists it; `ALL` entries are middleware, not answers. */
export interface RouteEntry {
  method: string;
  path: string;
}

/**
 * A lookup from a request path to the methods its fixed route answers (sorted, `HEAD` added where
 * `GET` is, as Hono answers HEAD with the GET route); empty for any other path.
 *
 * @example
 * const allowed = allowedMethods(app.routes)
 * allowed("/orders") // ["POST"]
 */
export function allowedMethods(routes: readonly RouteEntry[]): (path: string) => string[] {
  const table = new Map<string, Set<string>>();
  for (const { method, path } of routes) {
    if (method === "ALL" || /[:*]/.test(path)) continue;
    const methods = table.get(path) ?? new Set<string>();
    methods.add(method.toUpperCase());
    if (method.toUpperCase() === "GET") methods.add("HEAD");
    table.set(path, methods);
  }
  return (path) => [...(table.get(path) ?? [])].sort();
}
