/**
 * The layers of the code base, checked: every import between the project's folders must point
 * down (or stay within its folder), and no module may import itself back through others.
 *
 *   shared/   events, ids, config, logger, HTTP helpers       imports nothing of the project above it
 *   otel/     OpenTelemetry adapter                            shared
 *   nats/     NATS adapter                                     shared, otel
 *   host/     the service host and its runtimes                shared, otel, nats
 *   inspection/ an order's trace (Jaeger), its logs             shared, otel, nats
 *             (VictoriaLogs), the span tree, the timeline page
 *   services/ the four services                                shared, otel, nats, host, inspection
 *   cli/, scripts/ (tools), bench/, test/                      anything below them
 *
 * Inside services/, each `<name>/domain/` folder holds a pure decider (state, evolve, decide): it
 * imports only shared/ and its own folder, and of packages only DOMAIN_PACKAGES — no `node:`, no
 * Hono, NATS or OpenTelemetry — so the business rules run and are tested without any I/O.
 *
 * A service's manifest (`services/<name>/manifest.ts`: its name, port, event types and NATS
 * resources as data, shared/service-manifest.ts) lives in its folder but belongs to shared/: the
 * tables every layer reads are derived from it (shared/services.ts), so it imports only shared/.
 *
 * Specs (`*.spec.ts`) are tests wherever they sit and may import test helpers. Run:
 * `node --import tsx scripts/check-layers.ts` (exit 1 and one line per violation); the unit test
 * scripts/check-layers.unit.spec.ts runs the same check.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");

/** Which project folders each folder may import from (besides itself). */
export const MAY_IMPORT: Record<string, readonly string[]> = {
  shared: [],
  otel: ["shared"],
  nats: ["shared", "otel"],
  host: ["shared", "otel", "nats"],
  inspection: ["shared", "otel", "nats"],
  services: ["shared", "otel", "nats", "host", "inspection"],
  cli: ["shared", "otel", "nats", "host", "inspection", "services", "scripts"],
  scripts: ["shared", "otel", "nats", "host", "inspection", "services", "cli"],
  bench: ["shared", "otel", "nats", "host", "inspection", "services", "cli", "scripts", "test"],
  test: ["shared", "otel", "nats", "host", "inspection", "services", "cli", "scripts", "bench"],
};

/** The only packages a `services/<name>/domain/` module may import: schemas, never I/O. */
export const DOMAIN_PACKAGES: readonly string[] = ["valibot"];

const SKIP = new Set(["node_modules", "dist", ".data", ".git", "fixtures"]);

function sources(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    if (SKIP.has(name)) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) sources(path, out);
    else if (name.endsWith(".ts") && !name.endsWith(".d.ts")) out.push(path);
  }
  return out;
}

/** Every specifier a module imports or re-exports (type-only ones included): relative and packages. */
export function specifiersOf(text: string): string[] {
  const out: string[] = [];
  const re =
    /(?:^|\n)\s*(?:import|export)\s[^;]*?from\s*["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)|(?:^|\n)\s*import\s*["']([^"']+)["']/g;
  for (const m of text.matchAll(re)) {
    const spec = m[1] ?? m[2] ?? m[3];
    if (spec) out.push(spec);
  }
  return out;
}

/** The relative specifiers a module imports or re-exports (type-only ones included). */
export function importsOf(text: string): string[] {
  return specifiersOf(text).filter((spec) => spec.startsWith("."));
}

/** `services/<name>/domain/` of a path relative to the root, or undefined outside a domain folder. */
function domainOf(path: string): string | undefined {
  return /^(services\/[^/]+\/domain)\//.exec(path)?.[1];
}

/** The package a bare specifier names: `@scope/name` or `name` (`node:fs` stays `node:fs`). */
function packageOf(spec: string): string {
  const parts = spec.split("/");
  return spec.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0]!;
}

const isSpec = (file: string) => /\.spec\.ts$/.test(file);

/** A service's manifest: in its folder, of the shared/ layer (see the header). */
export const isManifest = (path: string) => /^services\/[^/]+\/manifest\.ts$/.test(path);

/** Violations of MAY_IMPORT, and import cycles, as one line each (empty when the layers hold). */
export function layerViolations(root = REPO_ROOT): string[] {
  const layerOf = (file: string) => {
    const path = relative(root, file);
    return isManifest(path) ? "shared" : path.split("/")[0]!;
  };
  const files = sources(root).filter((f) => layerOf(f) in MAY_IMPORT);
  const graph = new Map<string, string[]>();
  const problems: string[] = [];
  for (const file of files) {
    const from = layerOf(file);
    const deps: string[] = [];
    const specs = specifiersOf(readFileSync(file, "utf8"));
    const domain = domainOf(relative(root, file));
    if (domain && !isSpec(file)) {
      for (const spec of specs) {
        if (spec.startsWith(".")) {
          const target = relative(root, resolve(dirname(file), spec));
          if (layerOf(resolve(root, target)) !== "shared" && domainOf(target) !== domain) {
            problems.push(`${relative(root, file)} imports ${target}: ${domain}/ is pure and may import only shared/ and itself`);
          }
        } else if (!DOMAIN_PACKAGES.includes(packageOf(spec))) {
          problems.push(
            `${relative(root, file)} imports ${spec}: ${domain}/ is pure and may import no package but ${DOMAIN_PACKAGES.join(", ")} (no node:, Hono, NATS or OpenTelemetry)`,
          );
        }
      }
    }
    for (const spec of specs.filter((s) => s.startsWith("."))) {
      const target = resolve(dirname(file), spec);
      const to = layerOf(target);
      deps.push(target);
      if (isSpec(file) || !(from in MAY_IMPORT) || to === from || !(to in MAY_IMPORT)) continue;
      if (!MAY_IMPORT[from]!.includes(to))
        problems.push(`${relative(root, file)} imports ${relative(root, target)}: ${from}/ may not import ${to}/`);
    }
    if (!isSpec(file)) graph.set(file, deps);
  }
  // Cycles among non-test modules: a depth-first search that reports each back edge's loop once.
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const seen = new Set<string>();
  const visit = (file: string) => {
    state.set(file, "open");
    stack.push(file);
    for (const dep of graph.get(file) ?? []) {
      if (!graph.has(dep)) continue;
      if (state.get(dep) === "open") {
        const loop = stack.slice(stack.indexOf(dep)).map((f) => relative(root, f));
        const key = [...loop].sort().join(" ");
        if (!seen.has(key)) {
          seen.add(key);
          problems.push(`import cycle: ${[...loop, relative(root, dep)].join(" → ")}`);
        }
      } else if (!state.has(dep)) {
        visit(dep);
      }
    }
    stack.pop();
    state.set(file, "done");
  };
  for (const file of graph.keys()) if (!state.has(file)) visit(file);
  return problems;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const problems = layerViolations();
  for (const p of problems) console.error(p);
  console.log(problems.length === 0 ? "layers: every import points down, no cycles" : `layers: ${problems.length} problem(s)`);
  process.exit(problems.length === 0 ? 0 : 1);
}
