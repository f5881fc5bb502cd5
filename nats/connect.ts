/** The NATS connection of a service: server list and credentials from the contract's variables. */
import { connect, credsAuthenticator, type NatsConnection } from "@nats-io/transport-node";

export interface NatsConnectOptions {
  servers: string[];
  name: string;
  user?: string;
  password?: string;
  /** Contents of a `.creds` file (the entry reads it: file access is runtime-specific). */
  creds?: string;
  /** Fail at once when no server answers (the CLI) instead of waiting for one (services). */
  failFast?: boolean;
}

/**
 * Connects and keeps reconnecting forever: a service outlives a NATS restart, answering /readyz 503
 * meanwhile. The first connect also waits for a server that is not up yet.
 */
export function connectNats(opts: NatsConnectOptions): Promise<NatsConnection> {
  return connect({
    servers: opts.servers,
    name: opts.name,
    user: opts.user,
    pass: opts.password,
    authenticator: opts.creds ? credsAuthenticator(new TextEncoder().encode(opts.creds)) : undefined,
    maxReconnectAttempts: opts.failFast ? 0 : -1,
    reconnectTimeWait: 500,
    waitOnFirstConnect: !opts.failFast,
    timeout: 5_000,
  });
}
