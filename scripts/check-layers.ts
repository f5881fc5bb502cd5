/**
 * The layers of the code base, checked: every import between the project's folders must point
 * down (or stay within its folder), and no module may import itself back through others.
 *
 *   shared/   events, ids, config, logger, HTTP helpers       imports nothing of the project above it
 *   otel/     OpenTelemetry adapter                            shared
 *   nats/     NATS adapter                                     shared, otel
 *   host/     the service host and its runtimes                shared, otel, nats
 *   services/ the four services                                shared, otel, nats, host
 *   cli/, scripts/ (tools), bench/, test/                      anything below them
 *
 * Specs (`*.spec.ts`) are tests wherever they sit and may import test helpers. Run:
 * `node --import tsx scripts/check-layers.ts` (exit 1 and one line per violation); the unit test
 * test/layers.unit.spec.ts runs the same check.
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
  services: ["shared", "otel", "nats", "host"],
  cli: ["shared", "otel", "nats", "host", "services", "scripts"],
  scripts: ["shared", "otel", "nats", "host", "services", "cli"],
  bench: ["shared", "otel", "nats", "host", "services", "cli", "scripts", "test"],
  test: ["shared", "otel", "nats", "host", "services", "cli", "scripts", "bench"],
};

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

/** The relative specifiers a module imports or re-exports (type-only ones included). */
export function importsOf(text: string): string[] {
  const out: string[] = [];
  const re = /(?:^|\n)\s*(?:import|export)\s[^;]*?from\s*["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)|(?:^|\n)\s*import\s*["']([^"']+)["']/g;
  for (const m of text.matchAll(re)) {
    const spec = m[1] ?? m[2] ?? m[3];
    if (spec?.startsWith(".")) out.push(spec);
  }
  return out;
}

const isSpec = (file: string) => /\.spec\.ts$/.test(file);

/** Violations of MAY_IMPORT, and import cycles, as one line each (empty when the layers hold). */
export function layerViolations(root = REPO_ROOT): string[] {
  const layerOf = (file: string) => relative(root, file).split("/")[0]!;
  const files = sources(root).filter((f) => layerOf(f) in MAY_IMPORT);
  const graph = new Map<string, string[]>();
  const problems: string[] = [];
  for (const file of files) {
    const from = layerOf(file);
    const deps: string[] = [];
    for (const spec of importsOf(readFileSync(file, "utf8"))) {
      const target = resolve(dirname(file), spec);
      const to = layerOf(target);
      deps.push(target);
      if (isSpec(file) || !(from in MAY_IMPORT) || to === from || !(to in MAY_IMPORT)) continue;
      if (!MAY_IMPORT[from]!.includes(to)) problems.push(`${relative(root, file)} imports ${relative(root, target)}: ${from}/ may not import ${to}/`);
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
