// The start every integration spec against the broker shares: a nats-server of its own (free
// loopback port, temp store, test/support/nats-server.ts), one connection, a JetStream client and
// manager — opened in a before hook, closed and stopped in the matching after hook.
import { afterAll, afterEach, beforeAll, beforeEach } from "vitest";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream";
import { startNatsServer, type NatsServerHandle, type StartNatsServerOptions } from "./nats-server.ts";

/** What useNatsServer started; each field is read in a test or hook, once the server runs. */
export interface NatsServerFixture {
  readonly server: NatsServerHandle;
  /** nats://127.0.0.1:<port> */
  readonly url: string;
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
}

export interface UseNatsServerOptions extends StartNatsServerOptions {
  /** "file" (default): one server for the file (beforeAll/afterAll); "test": a fresh one, empty store, per test (beforeEach/afterEach). */
  per?: "file" | "test";
}

/** Reading a fixture field while vitest collects the file, before the hook started the server. */
export class NatsServerNotStartedError extends Error {
  constructor(field: string) {
    super(
      `useNatsServer(): "${field}" was read before the server started — read it inside a test or a hook registered after useNatsServer(), not at the top level of the file`,
    );
    this.name = "NatsServerNotStartedError";
  }
}

interface Running {
  server: NatsServerHandle;
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
}

/**
 * Registers the hooks that start a nats-server and connect to it, and the ones that close the
 * connection and stop it. Hooks the spec registers after this call run after the start and before
 * the stop (vitest runs after-hooks in reverse, `sequence.hooks: "stack"`): a spec's own setup can
 * use the connection, and its own teardown (workers, in-process services) runs while it is open.
 *
 * @example
 * const nats = useNatsServer();
 * beforeAll(() => ensureOrderStreams(nats.jsm, 1));
 * it("stores an event", async () => {
 *   expect((await nats.js.publish("orders.0.o1.ORDER_CREATED", "{}")).seq).toBe(1);
 * });
 */
export function useNatsServer(options: UseNatsServerOptions = {}): NatsServerFixture {
  const { per = "file", ...serverOptions } = options;
  let running: Running | undefined;

  const start = async (): Promise<void> => {
    const server = await startNatsServer(serverOptions);
    let nc: NatsConnection | undefined;
    try {
      nc = await connect({ servers: server.url });
      running = { server, nc, js: jetstream(nc), jsm: await jetstreamManager(nc) };
    } catch (err) {
      await nc?.close();
      await server.stop();
      throw err;
    }
  };
  const stop = async (): Promise<void> => {
    const was = running;
    running = undefined;
    if (!was) return;
    try {
      await was.nc.close();
    } finally {
      await was.server.stop();
    }
  };
  if (per === "test") {
    beforeEach(start);
    afterEach(stop);
  } else {
    beforeAll(start);
    afterAll(stop);
  }

  const current = (field: string): Running => {
    if (!running) throw new NatsServerNotStartedError(field);
    return running;
  };
  return {
    get server() {
      return current("server").server;
    },
    get url() {
      return current("url").server.url;
    },
    get nc() {
      return current("nc").nc;
    },
    get js() {
      return current("js").js;
    },
    get jsm() {
      return current("jsm").jsm;
    },
  };
}
