/**
 * The servers and tools orderstream runs beside itself — nats-server, natscli, Jaeger, VictoriaLogs —
 * found where they are, or built with Go on first use, in one place: `npm start` (scripts/start.ts),
 * the test suite's global setup (test/support/global-setup.ts) and `.ci/run` (scripts/ensure-tools.ts)
 * all call {@link ensureTool}. Versions: scripts/versions.ts. Go caches module downloads and builds,
 * so a build takes minutes once and seconds after; the binary lands where the finders look first
 * (GOBIN, else GOPATH/bin, else ~/go/bin). Node-only helper, like nats-binary.ts.
 */
import { execFile, execFileSync } from "node:child_process";
import { accessSync, chmodSync, constants, copyFileSync, mkdirSync, mkdtempSync, renameSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, dirname, join } from "node:path";
import { findNatsCli, findNatsServer, goBinDirs } from "./nats-binary.ts";
import { findJaeger, findVictoriaLogs } from "./observability.ts";
import { JAEGER_MODULE_VERSION, NATS_SERVER_VERSION, NATSCLI_VERSION, VICTORIA_LOGS_VERSION } from "./versions.ts";

type Env = Record<string, string | undefined>;

export type ToolName = "nats-server" | "natscli" | "jaeger" | "victoria-logs";

interface Tool {
  /** The binary's file name (without .exe). */
  exe: string;
  /** The Go module the binary comes from, and its version. */
  module: string;
  version: string;
  /** An installed one, or null (the finders of nats-binary.ts and observability.ts). */
  find(env: Env): string | null;
  /** Go commands that put the binary at `out` (run in `workDir`, a fresh directory). */
  build(out: string): string[][];
  /** Extra environment for the build. */
  buildEnv?: Env;
  /** What to do without Go. */
  alternatives: string;
}

export const TOOLS: Record<ToolName, Tool> = {
  "nats-server": {
    exe: "nats-server",
    module: "github.com/nats-io/nats-server/v2",
    version: NATS_SERVER_VERSION,
    find: findNatsServer,
    build: () => [["install", `github.com/nats-io/nats-server/v2@${NATS_SERVER_VERSION}`]],
    alternatives:
      "a release binary from https://github.com/nats-io/nats-server/releases (on the PATH, or NATS_SERVER_BIN=/path/to/it), `brew install nats-server`, or the `nats:2.15` container image (then NATS_URL=nats://127.0.0.1:4222)",
  },
  natscli: {
    exe: "nats",
    module: "github.com/nats-io/natscli",
    version: NATSCLI_VERSION,
    find: findNatsCli,
    build: () => [["install", `github.com/nats-io/natscli/nats@${NATSCLI_VERSION}`]],
    alternatives:
      "a release binary from https://github.com/nats-io/natscli/releases (on the PATH, or NATS_CLI_BIN), or `brew install nats-io/nats-tools/nats`",
  },
  jaeger: {
    exe: "jaeger",
    module: "github.com/jaegertracing/jaeger",
    version: JAEGER_MODULE_VERSION,
    find: findJaeger,
    // Built as a tool of a throw-away module, the way Jaeger documents building v2 from source.
    build: (out) => [
      ["mod", "init", "jaeger-build"],
      ["get", "-tool", `github.com/jaegertracing/jaeger/cmd/jaeger@${JAEGER_MODULE_VERSION}`],
      ["build", "-o", out, "github.com/jaegertracing/jaeger/cmd/jaeger"],
    ],
    alternatives:
      "a Jaeger v2 release binary from https://github.com/jaegertracing/jaeger/releases (on the PATH, or JAEGER_BIN), or the `jaegertracing/jaeger` container image (then OTEL_EXPORTER_OTLP_ENDPOINT and JAEGER_QUERY_URL)",
  },
  "victoria-logs": {
    exe: "victoria-logs",
    module: "github.com/VictoriaMetrics/VictoriaLogs",
    version: VICTORIA_LOGS_VERSION,
    find: findVictoriaLogs,
    build: () => [["install", `github.com/VictoriaMetrics/VictoriaLogs/app/victoria-logs@${VICTORIA_LOGS_VERSION}`]],
    // It needs cgo (and so a C compiler).
    buildEnv: { CGO_ENABLED: "1" },
    alternatives:
      "a release binary from https://github.com/VictoriaMetrics/VictoriaLogs/releases (on the PATH, or VICTORIA_LOGS_BIN), or the `victoriametrics/victoria-logs` container image (then VICTORIA_LOGS_URL)",
  },
};

/** Neither installed nor buildable (no Go, or the build failed): the message says what to do. */
export class ToolMissingError extends Error {
  constructor(
    readonly tool: ToolName,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "ToolMissingError";
  }
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** The `go` command on the PATH (or GOROOT/bin), or null. */
export function findGo(env: Env = process.env): string | null {
  const exe = process.platform === "win32" ? "go.exe" : "go";
  const dirs = [...(env.PATH ?? "").split(delimiter).filter(Boolean), ...(env.GOROOT ? [join(env.GOROOT, "bin")] : [])];
  return dirs.map((d) => join(d, exe)).find(isExecutable) ?? null;
}

/** Where a build puts the binary: the first place the finders look after an explicit variable. */
export function buildTarget(tool: ToolName, env: Env = process.env): string {
  return join(goBinDirs(env)[0]!, process.platform === "win32" ? `${TOOLS[tool].exe}.exe` : TOOLS[tool].exe);
}

/** True when the binary at `path` is exactly the pinned version (its Go build info, else its --version). */
export function isPinnedVersion(tool: ToolName, path: string, go: string | null): boolean {
  const { module, version } = TOOLS[tool];
  if (go) {
    try {
      const info = execFileSync(go, ["version", "-m", path], { encoding: "utf8", timeout: 10_000 });
      return new RegExp(`^\\s+mod\\s+${module.replaceAll(".", "\\.")}\\s+${version.replaceAll(".", "\\.")}(\\s|$)`, "m").test(info);
    } catch {
      /* not a Go binary, or no build info: ask it */
    }
  }
  try {
    return execFileSync(path, ["--version"], { encoding: "utf8", timeout: 10_000 }).includes(version.replace(/^v/, ""));
  } catch {
    return false;
  }
}

/** What {@link ensureTool} will do. */
export type ToolPlan =
  | { action: "use"; path: string }
  | { action: "build"; go: string; target: string }
  | { action: "missing"; message: string };

/**
 * The decision alone, without running a build: an installed binary is used (with `exact`, only the
 * pinned version at the build target, as CI wants); else Go builds it; else a message naming the
 * alternatives.
 * @example planTool("nats-server", process.env) // { action: "use", path: "/home/me/go/bin/nats-server" }
 */
export function planTool(tool: ToolName, env: Env = process.env, exact = false): ToolPlan {
  const spec = TOOLS[tool];
  const go = findGo(env);
  const target = buildTarget(tool, env);
  if (exact) {
    if (isExecutable(target) && isPinnedVersion(tool, target, go)) return { action: "use", path: target };
  } else {
    const found = spec.find(env);
    if (found) return { action: "use", path: found };
  }
  if (go) return { action: "build", go, target };
  return {
    action: "missing",
    message:
      `${spec.exe} ${spec.version} is not installed and Go is not on the PATH to build it (https://go.dev/dl/; then this builds it on first use). ` +
      `Or install ${spec.exe} yourself: ${spec.alternatives}.`,
  };
}

function run(go: string, args: string[], cwd: string, env: Env): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(go, args, { cwd, env: env as NodeJS.ProcessEnv, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (!err) return resolve();
      const tail = `${stdout}${stderr}`.trim().split("\n").slice(-15).join("\n");
      reject(new Error(`go ${args.join(" ")} failed:\n${tail}`));
    });
  });
}

/** Builds `tool` with Go into `target` (written beside it, then renamed: never half a binary there). */
async function build(tool: ToolName, go: string, target: string, env: Env): Promise<void> {
  const spec = TOOLS[tool];
  const work = mkdtempSync(join(tmpdir(), `orderstream-build-${spec.exe}-`));
  const binDir = join(work, "bin");
  const out = join(binDir, process.platform === "win32" ? `${spec.exe}.exe` : spec.exe);
  mkdirSync(binDir);
  const buildEnv = { ...env, ...spec.buildEnv, GOBIN: binDir };
  try {
    for (const args of spec.build(out)) await run(go, args, work, buildEnv);
    mkdirSync(dirname(target), { recursive: true });
    try {
      renameSync(out, target);
    } catch {
      // Another file system (a tmpdir mount): copy within the target's directory, then rename.
      const temp = `${target}.${process.pid}.tmp`;
      copyFileSync(out, temp);
      chmodSync(temp, 0o755);
      renameSync(temp, target);
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/**
 * The path of `tool`: an installed one, or one built now with Go — saying so in one line before
 * (a build takes minutes on a cold Go cache) and one after, with how long it took. Throws
 * {@link ToolMissingError} without Go or when the build fails.
 */
export async function ensureTool(tool: ToolName, opts: { env?: Env; log?: (line: string) => void; exact?: boolean } = {}): Promise<string> {
  const env = opts.env ?? process.env;
  const log = opts.log ?? ((line: string) => console.log(line));
  const plan = planTool(tool, env, opts.exact);
  if (plan.action === "use") return plan.path;
  if (plan.action === "missing") throw new ToolMissingError(tool, plan.message);
  const { exe, version } = TOOLS[tool];
  log(`building ${exe} ${version} with Go into ${plan.target} (first use only; minutes on a cold Go cache, seconds after)…`);
  const started = performance.now();
  try {
    await build(tool, plan.go, plan.target, env);
  } catch (err) {
    throw new ToolMissingError(
      tool,
      `building ${exe} ${version} with Go failed: ${(err as Error).message}\nOr install ${exe} yourself: ${TOOLS[tool].alternatives}.`,
      {
        cause: err,
      },
    );
  }
  log(`built ${exe} ${version} in ${((performance.now() - started) / 1000).toFixed(1)} s: ${plan.target}`);
  return plan.target;
}

/**
 * Like {@link ensureTool} for what the system runs without (Jaeger, VictoriaLogs): null and one
 * warning line instead of an error.
 */
export async function optionalTool(
  tool: ToolName,
  log: (line: string) => void,
  warn: (line: string) => void,
  env: Env = process.env,
): Promise<string | null> {
  try {
    return await ensureTool(tool, { env, log });
  } catch (err) {
    if (!(err instanceof ToolMissingError)) throw err;
    warn(`running without ${TOOLS[tool].exe}: ${err.message.split("\n")[0]}`);
    return null;
  }
}
