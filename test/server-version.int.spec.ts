/**
 * The minimum server: a service or the CLI pointed at a nats-server older than 2.11 stops at once
 * with a message that names the version it found and how to get a current one. The old server is
 * Debian's 2.9 (`apt-get install -y nats-server`, as .ci/run does), a real one, not a stand-in.
 */
import { existsSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startNatsServer, type NatsServerHandle } from "./support/nats-server.ts";
import { startService } from "./support/processes.ts";
import { runCli } from "./support/cli.ts";
import { natsServerVersion } from "../scripts/nats-binary.ts";
import { compareVersions, MIN_SERVER_VERSION } from "../nats/server-version.ts";

const DEBIAN_SERVER = "/usr/sbin/nats-server";

let old: NatsServerHandle;
let version: string;

beforeAll(async () => {
  if (!existsSync(DEBIAN_SERVER)) {
    throw new Error(
      `${DEBIAN_SERVER} is missing: this test needs an old nats-server, Debian's 2.9 (apt-get install -y nats-server, as .ci/run does)`,
    );
  }
  version = natsServerVersion(DEBIAN_SERVER)!;
  expect(compareVersions(version, MIN_SERVER_VERSION)).toBeLessThan(0);
  old = await startNatsServer({ binary: DEBIAN_SERVER });
});

afterAll(async () => {
  await old?.stop();
});

describe(`a nats-server older than ${MIN_SERVER_VERSION}`, () => {
  it("stops a service at start with exit 1, naming the version found and how to get a current one", async () => {
    const started = Date.now();
    const failure = await startService("payment", { NATS_URL: old.url }, { readyTimeoutMs: 15_000 }).then(
      async (s) => {
        await s.kill();
        throw new Error("the service became ready against an old server");
      },
      (err: Error) => err,
    );
    expect(failure.message).toMatch(/exited before becoming ready \(code=1/);
    expect(failure.message).toContain(`nats-server ${version} is too old: orderstream needs ${MIN_SERVER_VERSION} or newer`);
    expect(failure.message).toMatch(/go install github\.com\/nats-io\/nats-server\/v2@/);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it("stops the CLI with exit 1 and the same one-line reason", async () => {
    const result = await runCli(["events", "0c0ffee0-0000-4000-8000-000000000001"], { NATS_URL: old.url });
    expect(result.code).toBe(1);
    expect(result.stderr.trim().split("\n")).toHaveLength(1);
    expect(result.stderr).toContain(`nats-server ${version} is too old`);
  });
});
