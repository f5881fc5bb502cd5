/**
 * `npm run build`: bundles the Node entries into plain JavaScript under dist/, so production, `npm
 * start` and the benchmark run services without the TypeScript loader (tsx costs ≈ 30 MiB and most
 * of the start-up time per process; see BENCHMARKS.md, "Settings decided by measurement"):
 * - `dist/service.mjs <name>` — one service (scripts/service.ts), run with SERVICE_NODE_ARGS;
 * - `dist/cli.mjs <command>` — the operator CLI (cli/main.ts).
 * Every npm dependency is bundled too (the runtime image needs no node_modules); what is loaded only
 * on demand (the full OpenTelemetry NodeSDK, see otel/sdk.ts) goes into chunks/ and is read only
 * when asked for. Source maps hold mappings but no sources, so they stay cheap to load.
 */
import { existsSync, readdirSync, rmSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = fileURLToPath(new URL("..", import.meta.url));

/** The service bundle, relative to the repository root. */
export const SERVICE_BUNDLE = "dist/service.mjs";

/**
 * Node flags for a service process running the bundle (keep the Dockerfile's ENTRYPOINT in step;
 * test/bundle.int.spec.ts checks it):
 * - no `--enable-source-maps`: on Node 24 it cost ≈ 16 MiB per process from the start (RSS at ready
 *   84–92 MiB without, 100–104 with, mappings only; BENCHMARKS.md "Node flags"), which the 120 MB
 *   budget cannot spare. The maps are still written beside the bundle: `NODE_OPTIONS=--enable-source-maps`
 *   maps stack traces to the `.ts` sources when they are wanted; unmapped, they point into the
 *   unminified bundle, whose function names are the sources';
 * - a smaller V8 heap under load: semi-spaces of at most 4 MiB (default 16) and the old generation
 *   grown by 1.5× per major GC (default: up to 4×, by GC speed). The live heap is ≈ 20 MiB; without
 *   these the heap grows to 60–70 MiB more under load (peak RSS 110–140 MiB against 80–90 MiB),
 *   for no measurable CPU per order (BENCHMARKS.md, "Settings decided by measurement").
 */
export const SERVICE_NODE_ARGS = ["--max-semi-space-size=4", "--heap-growing-percent=50"];

/** `node <SERVICE_NODE_ARGS> dist/service.mjs <name>` minus the `node`. */
export function serviceBundleArgs(name: string): string[] {
  return [...SERVICE_NODE_ARGS, SERVICE_BUNDLE, name];
}

/** Bundles the entries into `<root>/dist` (about a second); throws on a build error. */
export async function buildBundles(outdir = `${root}dist`): Promise<void> {
  const result = await build({
    absWorkingDir: root,
    entryPoints: { service: "scripts/service.ts", cli: "cli/main.ts" },
    outdir,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    splitting: true,
    outExtension: { ".js": ".mjs" },
    chunkNames: "chunks/[name]-[hash]",
    sourcemap: true,
    sourcesContent: false,
    // CommonJS dependencies call require() for Node's built-in modules; ESM output has none.
    banner: { js: 'import { createRequire as __createRequire } from "node:module"; const require = __createRequire(import.meta.url);' },
    logLevel: "warning",
    metafile: true,
  });
  // Chunk names carry a content hash: drop the chunks of earlier builds.
  const written = new Set(Object.keys(result.metafile.outputs).map((file) => relative(outdir, join(root, file))));
  for (const file of existsSync(join(outdir, "chunks")) ? readdirSync(join(outdir, "chunks")) : []) {
    if (!written.has(join("chunks", file))) rmSync(join(outdir, "chunks", file));
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const started = performance.now();
  await buildBundles();
  console.log(`built ${SERVICE_BUNDLE} and dist/cli.mjs in ${Math.round(performance.now() - started)} ms`);
}
