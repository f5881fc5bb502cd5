// Locating a nats-server binary and picking free TCP ports.
// Node-only helper, shared by scripts/ (local start) and test/support/.
import { accessSync, constants, statSync } from "node:fs";
import { createServer } from "node:net";
import { delimiter, join } from "node:path";

export const NATS_INSTALL_HINT =
  "nats-server not found: install it with `apt-get install -y nats-server` (Debian/Ubuntu), `brew install nats-server` (macOS), or download a release from https://nats.io/download/ and put it on PATH.";

const FALLBACK_LOCATIONS = ["/usr/sbin/nats-server", "/usr/local/bin/nats-server"];

function isExecutableFile(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return false;
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Absolute path of a usable `nats-server` (PATH first, then well-known locations), or null. */
export function findNatsServer(): string | null {
  const exe = process.platform === "win32" ? "nats-server.exe" : "nats-server";
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, exe);
    if (isExecutableFile(candidate)) return candidate;
  }
  for (const candidate of FALLBACK_LOCATIONS) {
    if (isExecutableFile(candidate)) return candidate;
  }
  return null;
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
