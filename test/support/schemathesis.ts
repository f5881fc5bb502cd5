// Locating and running schemathesis (`st`), the OpenAPI fuzzer test/schemathesis.int.spec.ts runs
// against the live services. It is a Python tool: .ci/run installs the pinned version into its own
// virtualenv (below); a developer may do the same, or point SCHEMATHESIS_BIN at an `st`.
import { execFileSync, spawn } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { homedir } from "node:os";
import { delimiter, join } from "node:path";

/** The version the tests and .ci/run pin (keep the two in step). */
export const SCHEMATHESIS_VERSION = "4.32.5";

/** Where .ci/run installs it: a virtualenv per version, kept between runs. */
export const SCHEMATHESIS_VENV = join(
  process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache"),
  "orderstream",
  `schemathesis-${SCHEMATHESIS_VERSION}`,
);

export const SCHEMATHESIS_INSTALL_HINT =
  `schemathesis ${SCHEMATHESIS_VERSION} not found (looked at SCHEMATHESIS_BIN, ${SCHEMATHESIS_VENV}/bin/st and the PATH): ` +
  `\`python3 -m venv ${SCHEMATHESIS_VENV} && ${SCHEMATHESIS_VENV}/bin/pip install schemathesis==${SCHEMATHESIS_VERSION}\` ` +
  `(what bash .ci/run does), or \`pip install schemathesis==${SCHEMATHESIS_VERSION}\`.`;

function versionOf(binary: string): string | null {
  try {
    accessSync(binary, constants.X_OK);
    return /version (\d+\.\d+\.\d+)/.exec(execFileSync(binary, ["--version"], { encoding: "utf8", timeout: 30_000 }))?.[1] ?? null;
  } catch {
    return null;
  }
}

/** Absolute path of an `st` of SCHEMATHESIS_VERSION, or null. */
export function findSchemathesis(): string | null {
  const candidates = [process.env.SCHEMATHESIS_BIN, join(SCHEMATHESIS_VENV, "bin", "st")];
  for (const dir of (process.env.PATH ?? "").split(delimiter)) if (dir) candidates.push(join(dir, "st"));
  for (const path of new Set(candidates.filter((p): p is string => !!p))) if (versionOf(path) === SCHEMATHESIS_VERSION) return path;
  return null;
}

export interface SchemathesisRun {
  code: number | null;
  output: string;
  /** True when it was stopped at the time limit. */
  timedOut: boolean;
}

/** Runs `st <args>` to its end, or SIGKILLs it after `timeoutMs`; stdout and stderr together. */
export function runSchemathesis(binary: string, args: string[], timeoutMs: number, cwd: string): Promise<SchemathesisRun> {
  return new Promise((resolve, reject) => {
    // NO_COLOR and a wide terminal: plain text that the test can quote.
    const child = spawn(binary, args, { cwd, env: { ...process.env, NO_COLOR: "1", COLUMNS: "160" }, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.setEncoding("utf8").on("data", (c: string) => (output += c));
    child.stderr.setEncoding("utf8").on("data", (c: string) => (output += c));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, timeoutMs);
    child.once("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, output, timedOut });
    });
  });
}
