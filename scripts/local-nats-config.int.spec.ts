/**
 * npm start's server config as nats-server reads it: written into a data directory outside the
 * checkout (ORDERSTREAM_DATA_DIR), with the auth config included, the server comes up with auth on
 * and JetStream syncing as chosen — read back from its own /varz, not from the file. Compose's
 * single server (nats/nats-server.conf) makes the same choice, in a config nats-server accepts.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startNatsServer } from "../test/support/nats-server.ts";
import { REPO_ROOT } from "../test/support/processes.ts";
import { findNatsServer, freePort } from "./nats-binary.ts";
import { newPasswords } from "./local-nats.ts";
import { serverPasswordEnv } from "./nats-password-hash.ts";
import { syncIntervalFrom, writeLocalNatsConfig } from "./local-nats-config.ts";

const AUTH_CONF = join(REPO_ROOT, "nats/auth/nats-server.auth.conf");
let dir: string;
let serverEnv: Record<string, string>;

interface Varz {
  auth_required?: boolean;
  jetstream?: { config?: { sync_interval?: number; sync_always?: boolean } };
}

/** Starts nats-server the way npm start does, with NATS_SYNC_INTERVAL=`value` (or unset), and returns its /varz. */
async function varzWith(value: string | undefined): Promise<Varz> {
  const configFile = writeLocalNatsConfig(
    syncIntervalFrom({ NATS_SYNC_INTERVAL: value }),
    AUTH_CONF,
    join(dir, value ?? "unset", "nats", "server.conf"),
  );
  const monitor = await freePort();
  const server = await startNatsServer({ configFile, env: serverEnv, args: ["-m", String(monitor)] });
  try {
    return (await (await fetch(`http://127.0.0.1:${monitor}/varz`)).json()) as Varz;
  } finally {
    await server.stop();
  }
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "orderstream-local-nats-config-"));
  serverEnv = await serverPasswordEnv(newPasswords());
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("npm start's nats-server config", () => {
  it("given no NATS_SYNC_INTERVAL, then the server fsyncs every write, with auth on", async () => {
    const varz = await varzWith(undefined);
    expect(varz.auth_required).toBe(true);
    expect(varz.jetstream?.config?.sync_always).toBe(true);
  });

  it("given NATS_SYNC_INTERVAL=1s, then the server syncs every second and not on every write", async () => {
    const varz = await varzWith("1s");
    expect(varz.auth_required).toBe(true);
    expect(varz.jetstream?.config?.sync_always).toBeFalsy();
    expect(varz.jetstream?.config?.sync_interval).toBe(1e9);
  });
});

describe("compose's nats-server config", () => {
  it("fsyncs every write too, in a config nats-server accepts (nats-server -t)", () => {
    const file = join(REPO_ROOT, "nats/nats-server.conf");
    expect(readFileSync(file, "utf8")).toMatch(/^jetstream \{[^}]*^\s*sync_interval: always$[^}]*^\}/m);
    const binary = findNatsServer();
    expect(binary, "nats-server not found").toBeTruthy();
    // -t parses the whole file (every value, sync_interval's included) and exits non-zero on an error.
    const check = spawnSync(binary!, ["-t", "-c", file], { encoding: "utf8", timeout: 10_000 });
    expect(check.status, check.stderr).toBe(0);
    expect(check.stderr).toMatch(/configuration file .* is valid/);
  });
});
