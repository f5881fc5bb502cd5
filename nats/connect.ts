/** The NATS connection of a service: server list and credentials from the NATS_* variables (docs/reference/environment.md). */
import { connect, credsAuthenticator, wsconnect, type ConnectionOptions, type NatsConnection } from "@nats-io/transport-node";
import type { NatsTlsOptions } from "../shared/config.ts";
import { NatsServerListError, natsTransportOf, type NatsTransport } from "../shared/nats-servers.ts";
import { shareRequestCancelError } from "./request-cancel.ts";

export interface NatsConnectOptions {
  servers: string[];
  name: string;
  user?: string;
  password?: string;
  /** Contents of a `.creds` file (the entry reads it: file access is runtime-specific). */
  creds?: string;
  /** Fail at once when no server answers (the CLI) instead of waiting for one (services). */
  failFast?: boolean;
  /**
   * TLS settings. TLS is required (a plaintext server is refused) when these are given or any
   * server URL is `tls://`; otherwise it is used only if the server offers it.
   */
  tls?: NatsTlsOptions;
  /** Prefix of this connection's reply subjects, so an auth config can let it subscribe to its own only. */
  inboxPrefix?: string;
}

/** The inbox prefix of a service's connection: an auth config lets the service subscribe to `<prefix>.>` only. */
export function inboxPrefixOf(service: string): string {
  return `_INBOX_${service}`;
}

/** True when the connection must be TLS: a `tls://` URL or TLS material was given. */
export function requiresTls(opts: Pick<NatsConnectOptions, "servers" | "tls">): boolean {
  return opts.tls !== undefined || opts.servers.some((s) => /^tls:\/\//i.test(s.trim()));
}

/**
 * The transport this process connected with first. nats.js keeps one transport factory per process
 * and builds every reconnect from the latest one (node_modules/@nats-io/nats-core/lib/transport.js): a second
 * connection on the other transport would make the first one reconnect through the wrong one.
 */
let processTransport: NatsTransport | undefined;

/**
 * Connects and keeps reconnecting forever: a service outlives a NATS restart, answering /readyz 503
 * meanwhile. The first connect also waits for a server that is not up yet. `ws://` / `wss://`
 * servers go through the runtime's global WebSocket (`wsconnect`), every other through TCP; a list
 * mixing both, or WebSocket with TLS files, is refused with a NatsServerListError.
 */
export function connectNats(opts: NatsConnectOptions): Promise<NatsConnection> {
  let transport: NatsTransport;
  try {
    transport = natsTransportOf(opts.servers, opts.tls);
    if (processTransport !== undefined && processTransport !== transport) {
      throw new NatsServerListError(
        `this process already connected to NATS over ${processTransport === "websocket" ? "WebSocket" : "TCP"} and cannot also connect over ${transport === "websocket" ? "WebSocket" : "TCP"} (${opts.servers.join(", ")}): ` +
          "nats.js builds every reconnect from one transport per process. Use one kind of URL in this process",
      );
    }
    if (transport === "websocket" && typeof globalThis.WebSocket !== "function") {
      throw new NatsServerListError(
        `NATS_URL is WebSocket (${opts.servers.join(", ")}) but this runtime has no global WebSocket: run on Node 24 or newer, or on Deno`,
      );
    }
  } catch (err) {
    return Promise.reject(err);
  }
  processTransport = transport;
  shareRequestCancelError();
  const common: ConnectionOptions = {
    servers: opts.servers,
    name: opts.name,
    user: opts.user,
    pass: opts.password,
    authenticator: opts.creds ? credsAuthenticator(new TextEncoder().encode(opts.creds)) : undefined,
    inboxPrefix: opts.inboxPrefix,
    maxReconnectAttempts: opts.failFast ? 0 : -1,
    reconnectTimeWait: 500,
    waitOnFirstConnect: !opts.failFast,
    timeout: 5_000,
    // Otherwise every request (publish, KV read, pull) builds an Error with a stack trace up
    // front, in case it fails: 10-19 % of a service's CPU in the benchmark's profile.
    noAsyncTraces: true,
  };
  // wss:// is verified against the runtime's trust store: wsconnect refuses any `tls` option.
  if (transport === "websocket") return wsconnect(common);
  // An object (even empty) makes the client insist on TLS and verify the server's certificate.
  return connect({ ...common, tls: requiresTls(opts) ? definedOnly(opts.tls ?? {}) : undefined });
}

function definedOnly(tls: NatsTlsOptions): NatsTlsOptions {
  return Object.fromEntries(Object.entries(tls).filter(([, v]) => v !== undefined));
}
