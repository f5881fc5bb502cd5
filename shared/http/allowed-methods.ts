/**
 * Which methods a path answers, from an app's route table: what a 405 answer's `Allow` header
 * lists (RFC 9110 §15.5.6) when a known path is asked with another method.
 */

/** A route as Hono's `app.routes` lists it; `ALL` entries are middleware, not answers. */
export interface RouteEntry {
  method: string;
  path: string;
}

function patternOf(path: string): RegExp {
  const source = path
    .split("/")
    .map((segment) => {
      if (segment === "*") return "[^]*";
      if (segment.startsWith(":")) return "[^/]+";
      return segment.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    })
    .join("/");
  return new RegExp(`^${source}$`);
}

/**
 * A lookup from a request path to the methods its routes answer (sorted, `HEAD` added where `GET`
 * is, as Hono answers HEAD with the GET route); empty for a path no route matches. Built once.
 *
 * @example
 * const allowed = allowedMethods(app.routes)
 * allowed("/orders") // ["POST"]
 */
export function allowedMethods(routes: readonly RouteEntry[]): (path: string) => string[] {
  const table = routes.filter((r) => r.method !== "ALL").map((r) => ({ method: r.method.toUpperCase(), pattern: patternOf(r.path) }));
  return (path) => {
    const methods = new Set(table.filter((r) => r.pattern.test(path)).map((r) => r.method));
    if (methods.has("GET")) methods.add("HEAD");
    return [...methods].sort();
  };
}
