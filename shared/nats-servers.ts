/**
 * Which transport a NATS server list asks for. A process has one: nats.js keeps a single,
 * process-wide transport factory and builds every reconnect's transport from it
 * (node_modules/@nats-io/nats-core/lib/transport.js), so a WebSocket list and a TCP list cannot share a client.
 */
import { ConfigError } from "./config-error.ts";

/** `websocket`: `ws://` / `wss://` through the runtime's global WebSocket; `tcp`: `nats://`, `tls://`, `host:port`. */
export type NatsTransport = "websocket" | "tcp";

/** Which TLS settings are given (NATS_TLS_CA, NATS_TLS_CERT / NATS_TLS_KEY), without their contents. */
export interface NatsTlsGiven {
  ca?: unknown;
  cert?: unknown;
  key?: unknown;
}

/** A NATS server list (NATS_URL) that cannot be used as given; the message says why and what to do. */
export class NatsServerListError extends ConfigError {
  constructor(message: string) {
    super(message);
    this.name = "NatsServerListError";
  }
}

const WEBSOCKET_SCHEMES = new Set(["ws", "wss"]);
const TCP_SCHEMES = new Set(["nats", "tls"]);

/**
 * The transport of one server URL; a bare `host:port` (or `host`) is TCP, as nats.js reads it.
 * @example transportOfUrl("wss://edge.example.com") // "websocket"
 */
export function transportOfUrl(url: string): NatsTransport {
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url.trim())?.[1]?.toLowerCase();
  if (scheme === undefined) return "tcp";
  if (WEBSOCKET_SCHEMES.has(scheme)) return "websocket";
  if (TCP_SCHEMES.has(scheme)) return "tcp";
  throw new NatsServerListError(
    `NATS_URL entry ${url} has the scheme ${scheme}:// which NATS does not speak: use nats://, tls:// or host:port for TCP, ws:// or wss:// for WebSocket`,
  );
}

/**
 * The one transport every URL of `servers` uses, checked against the TLS settings: a list that
 * mixes WebSocket and TCP URLs, and WebSocket with a CA or client certificate, are refused.
 * @example natsTransportOf(["ws://a:8080", "ws://b:8080"]) // "websocket"
 */
export function natsTransportOf(servers: readonly string[], tls: NatsTlsGiven = {}): NatsTransport {
  if (servers.length === 0) throw new NatsServerListError("NATS_URL lists no server: give one or more URLs, comma-separated");
  const byTransport: Record<NatsTransport, string[]> = { websocket: [], tcp: [] };
  for (const url of servers) byTransport[transportOfUrl(url)].push(url);
  if (byTransport.websocket.length > 0 && byTransport.tcp.length > 0) {
    throw new NatsServerListError(
      `NATS_URL mixes WebSocket (${byTransport.websocket.join(", ")}) and TCP (${byTransport.tcp.join(", ")}) servers: ` +
        "a NATS client uses one transport for its first connection and every reconnect, so the TCP ones would be dialled as WebSocket. " +
        "List only ws:// / wss:// URLs (each server's websocket port) or only nats:// / tls:// / host:port ones (its client port)",
    );
  }
  if (byTransport.websocket.length === 0) return "tcp";
  if (tls.cert !== undefined || tls.key !== undefined) {
    throw new NatsServerListError(
      `NATS_TLS_CERT / NATS_TLS_KEY are set but NATS_URL is WebSocket (${byTransport.websocket.join(", ")}): ` +
        "the runtime's WebSocket cannot present a client certificate. Unset them and authenticate with NATS_USER / NATS_PASSWORD or NATS_CREDS, " +
        "or connect over TCP (tls://) to use the certificate",
    );
  }
  if (tls.ca !== undefined) {
    throw new NatsServerListError(
      `NATS_TLS_CA is set but NATS_URL is WebSocket (${byTransport.websocket.join(", ")}): ` +
        "the runtime's WebSocket checks a wss:// server against its own trust store and takes no CA. Unset NATS_TLS_CA and add the CA there: " +
        "NODE_EXTRA_CA_CERTS=<ca.pem> on Node, DENO_CERT=<ca.pem> on Deno (or the system's trust store)",
    );
  }
  return "websocket";
}
