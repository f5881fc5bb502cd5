// Locating current nats-server and natscli binaries, and picking free TCP ports.
// Node-only helper, shared by scripts/ (local start), bench/ and test/support/.
import { execFileSync } from "node:child_process";
import { accessSync, constants, statSync } from "node:fs";
import { createServer, connect as tcpConnect } from "node:net";
import { homedir } from "node:os";
import { delimiter, join } from "node:path";
import { compareVersions, MIN_SERVER_VERSION, SERVER_INSTALL_HINT } from "../nats/server-version.ts";
import { NATSCLI_VERSION } from "./versions.ts";

export const NATS_INSTALL_HINT =
  `no nats-server ${MIN_SERVER_VERSION} or newer found (looked at NATS_SERVER_BIN, GOBIN, ~/go/bin, the PATH, /usr/local/bin and /usr/sbin). ` +
  SERVER_INSTALL_HINT;

export const NATS_CLI_INSTALL_HINT = `natscli (\`nats\`) not found (looked at NATS_CLI_BIN, GOBIN, ~/go/bin and the PATH): \`go install github.com/nats-io/natscli/nats@${NATSCLI_VERSION}\` (npm test builds it when Go is on the PATH), or \`brew install nats-io/nats-tools/nats\`.`;

function isExecutableFile(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return false;
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

type Env = Record<string, string | undefined>;

/** Where `go install` puts binaries, most specific first: GOBIN, GOPATH/bin, ~/go/bin (Go's default GOPATH). */
export function goBinDirs(env: Env = process.env): string[] {
  const dirs = [env.GOBIN, env.GOPATH ? join(env.GOPATH.split(delimiter)[0]!, "bin") : undefined, join(env.HOME || homedir(), "go", "bin")];
  return [...new Set(dirs.filter((d): d is string => !!d))];
}

/**
 * Where a Go-installed or otherwise installed binary may be: an explicit variable first, then Go's
 * bin dirs (GOBIN, GOPATH/bin, ~/go/bin), the PATH, fallbacks; only executable files, in that order.
 */
export function executableCandidates(exe: string, explicitVar: string, fallbacks: string[] = [], env: Env = process.env): string[] {
  const out = [env[explicitVar], ...goBinDirs(env).map((d) => join(d, exe))];
  for (const dir of (env.PATH ?? "").split(delimiter)) if (dir) out.push(join(dir, exe));
  out.push(...fallbacks);
  return [...new Set(out.filter((p): p is string => !!p))].filter(isExecutableFile);
}

/** The version a nats-server binary reports (`nats-server: v2.15.3` → "2.15.3"), or null. */
export function natsServerVersion(binary: string): string | null {
  try {
    const out = execFileSync(binary, ["--version"], { encoding: "utf8", timeout: 5_000 });
    return /v?(\d+\.\d+\.\d+)/.exec(out)?.[1] ?? null;
  } catch {
    return null;
  }
}

const versionCache = new Map<string, string | null>();

/**
 * Absolute path of a usable `nats-server`: NATS_SERVER_BIN, then GOBIN, ~/go/bin (where `go install`
 * puts it), the PATH, /usr/local/bin and /usr/sbin — the first of version MIN_SERVER_VERSION or
 * newer (Debian's 2.9 in /usr/sbin is skipped). Null when there is none.
 */
export function findNatsServer(env: Env = process.env): string | null {
  const exe = process.platform === "win32" ? "nats-server.exe" : "nats-server";
  for (const path of executableCandidates(exe, "NATS_SERVER_BIN", ["/usr/local/bin/nats-server", "/usr/sbin/nats-server"], env)) {
    if (!versionCache.has(path)) versionCache.set(path, natsServerVersion(path));
    const version = versionCache.get(path);
    if (version && compareVersions(version, MIN_SERVER_VERSION) >= 0) return path;
  }
  return null;
}

/** Absolute path of natscli (`nats`): NATS_CLI_BIN, GOBIN, ~/go/bin, then the PATH; null when missing. */
export function findNatsCli(env: Env = process.env): string | null {
  return executableCandidates(process.platform === "win32" ? "nats.exe" : "nats", "NATS_CLI_BIN", [], env)[0] ?? null;
}

/** A port the OS considers free right now (listen on 0, read it, close). Racy by nature: retry on EADDRINUSE. */
export async function freePort(host = "127.0.0.1"): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once("error", reject);
    srv.listen({ port: 0, host, exclusive: true }, () => {
      const addr = srv.address();
      if (addr === null || typeof addr === "string") {
        srv.close();
        reject(new Error(`could not determine a free port on ${host}`));
        return;
      }
      const { port } = addr;
      srv.close((err) => (err ? reject(err) : resolve(port)));
    });
  });
}

/** True when nothing is listening on host:port (we can bind it ourselves). */
export async function isPortFree(port: number, host = "127.0.0.1"): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const srv = createServer();
    srv.unref();
    srv.once("error", () => resolve(false));
    srv.listen({ port, host, exclusive: true }, () => {
      srv.close(() => resolve(true));
    });
  });
}

/** True when something accepts a TCP connection on host:port within a second (a server is up). */
export function canConnect(port: number, host = "127.0.0.1"): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = tcpConnect({ port, host });
    const done = (ok: boolean) => {
      socket.removeAllListeners();
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}
