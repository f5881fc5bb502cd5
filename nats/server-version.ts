/**
 * The oldest nats-server this system runs on, and the check every service and the CLI make right
 * after connecting: consumers with several filters (2.10), priority groups with a pinned client and
 * batch direct gets (2.11) are what the event path is built on.
 */
import type { NatsConnection } from "@nats-io/transport-node";

export const MIN_SERVER_VERSION = "2.11.0";

export const SERVER_INSTALL_HINT =
  "Get a current one: `go install github.com/nats-io/nats-server/v2@v2.15.3`, `brew install nats-server`, " +
  "a release binary from https://github.com/nats-io/nats-server/releases, or the `nats:2.15` container image.";

/** The server is older than MIN_SERVER_VERSION; the message names what was found and how to get a current one. */
export class ServerTooOldError extends Error {
  constructor(readonly found: string) {
    super(`nats-server ${found} is too old: orderstream needs ${MIN_SERVER_VERSION} or newer. ${SERVER_INSTALL_HINT}`);
    this.name = "ServerTooOldError";
  }
}

/** `a` compared with `b` as dotted versions ("2.9.10" < "2.11.0"); a pre-release suffix is ignored. */
export function compareVersions(a: string, b: string): number {
  const parts = (v: string) =>
    v
      .replace(/^v/, "")
      .split(/[-+]/)[0]!
      .split(".")
      .map((n) => Number.parseInt(n, 10) || 0);
  const [x, y] = [parts(a), parts(b)];
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0);
    if (d !== 0) return Math.sign(d);
  }
  return 0;
}

/** Throws ServerTooOldError unless the connected server is at least MIN_SERVER_VERSION. */
export function assertServerVersion(nc: NatsConnection): void {
  const found = nc.info?.version ?? "unknown";
  if (found === "unknown" || compareVersions(found, MIN_SERVER_VERSION) < 0) throw new ServerTooOldError(found);
}
