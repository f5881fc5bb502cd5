import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "./config.ts";
import { NatsServerListError, natsTransportOf, transportOfUrl } from "./nats-servers.ts";

/** The error `fn` throws (the test fails when it throws none). */
function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error("expected an error, none was thrown");
}

describe("transportOfUrl", () => {
  it.each([
    ["ws://127.0.0.1:8080", "websocket"],
    ["wss://edge.example.com", "websocket"],
    ["WSS://EDGE.EXAMPLE.COM:443/nats", "websocket"],
    [" ws://host:80 ", "websocket"],
    ["nats://127.0.0.1:4222", "tcp"],
    ["tls://hub.example.com:4222", "tcp"],
    ["NATS://user:secret@host:4222", "tcp"],
    ["127.0.0.1:4222", "tcp"],
    ["localhost", "tcp"],
    ["[::1]:4222", "tcp"],
  ] as const)("given %s, it is %s", (url, transport) => {
    expect(transportOfUrl(url)).toBe(transport);
  });

  it("given a scheme NATS does not speak, it names the schemes it does", () => {
    const err = thrown(() => transportOfUrl("http://127.0.0.1:8080"));
    expect(err).toBeInstanceOf(NatsServerListError);
    expect(err.message).toBe(
      "NATS_URL entry http://127.0.0.1:8080 has the scheme http:// which NATS does not speak: use nats://, tls:// or host:port for TCP, ws:// or wss:// for WebSocket",
    );
  });
});

describe("natsTransportOf", () => {
  it("given only WebSocket URLs, it is websocket", () => {
    expect(natsTransportOf(["ws://a:8080", "wss://b:443"])).toBe("websocket");
  });

  it("given only TCP URLs (schemes and bare host:port), it is tcp, with or without TLS files", () => {
    expect(natsTransportOf(["nats://a:4222", "tls://b:4222", "c:4222"])).toBe("tcp");
    expect(natsTransportOf(["tls://b:4222"], { ca: "PEM", cert: "PEM", key: "PEM" })).toBe("tcp");
  });

  it("given a mix of WebSocket and TCP URLs, it refuses, naming both sides, why, and what to do", () => {
    const err = thrown(() => natsTransportOf(["ws://a:8080", "nats://b:4222", "c:4222"]));
    expect(err).toBeInstanceOf(NatsServerListError);
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message).toBe(
      "NATS_URL mixes WebSocket (ws://a:8080) and TCP (nats://b:4222, c:4222) servers: " +
        "a NATS client uses one transport for its first connection and every reconnect, so the TCP ones would be dialled as WebSocket. " +
        "List only ws:// / wss:// URLs (each server's websocket port) or only nats:// / tls:// / host:port ones (its client port)",
    );
    expect(err.message).not.toContain("\n");
  });

  it("given wss:// with a client certificate, it refuses: the runtime's WebSocket cannot present one", () => {
    const err = thrown(() => natsTransportOf(["wss://edge:443"], { cert: "PEM", key: "PEM" }));
    expect(err).toBeInstanceOf(NatsServerListError);
    expect(err.message).toBe(
      "NATS_TLS_CERT / NATS_TLS_KEY are set but NATS_URL is WebSocket (wss://edge:443): " +
        "the runtime's WebSocket cannot present a client certificate. Unset them and authenticate with NATS_USER / NATS_PASSWORD or NATS_CREDS, " +
        "or connect over TCP (tls://) to use the certificate",
    );
  });

  it("given wss:// with a CA file, it refuses and names each runtime's trust-store variable", () => {
    const err = thrown(() => natsTransportOf(["wss://edge:443"], { ca: "PEM" }));
    expect(err).toBeInstanceOf(NatsServerListError);
    expect(err.message).toBe(
      "NATS_TLS_CA is set but NATS_URL is WebSocket (wss://edge:443): " +
        "the runtime's WebSocket checks a wss:// server against its own trust store and takes no CA. Unset NATS_TLS_CA and add the CA there: " +
        "NODE_EXTRA_CA_CERTS=<ca.pem> on Node, DENO_CERT=<ca.pem> on Deno (or the system's trust store)",
    );
  });

  it("given TLS settings present but undefined (none set), WebSocket is accepted", () => {
    expect(natsTransportOf(["ws://a:8080"], { ca: undefined, cert: undefined, key: undefined })).toBe("websocket");
  });

  it("given no server at all, it refuses", () => {
    expect(thrown(() => natsTransportOf([])).message).toBe("NATS_URL lists no server: give one or more URLs, comma-separated");
  });
});

describe("loadConfig's NATS_URL", () => {
  it("given a comma list of ws:// URLs, it keeps each", () => {
    expect(loadConfig("order", { NATS_URL: "ws://a:8080, ws://b:8080" }).natsServers).toEqual(["ws://a:8080", "ws://b:8080"]);
  });

  it("given a mixed list, it is a ConfigError (the service's one line and exit 1)", () => {
    expect(() => loadConfig("payment", { NATS_URL: "ws://a:8080,nats://b:4222" })).toThrow(
      /^NATS_URL mixes WebSocket \(ws:\/\/a:8080\) and TCP \(nats:\/\/b:4222\)/,
    );
  });

  it("given wss:// with NATS_TLS_CA or a client certificate, it is a ConfigError naming the variable", () => {
    expect(() => loadConfig("order", { NATS_URL: "wss://edge", NATS_TLS_CA: "/ca.pem" })).toThrow(ConfigError);
    expect(() => loadConfig("order", { NATS_URL: "wss://edge", NATS_TLS_CA: "/ca.pem" })).toThrow(/^NATS_TLS_CA is set/);
    expect(() => loadConfig("order", { NATS_URL: "wss://edge", NATS_TLS_CERT: "/c.pem", NATS_TLS_KEY: "/k.pem" })).toThrow(
      /^NATS_TLS_CERT \/ NATS_TLS_KEY are set/,
    );
  });

  it("given only separators, it refuses instead of connecting nowhere", () => {
    expect(() => loadConfig("order", { NATS_URL: " , " })).toThrow(/lists no server/);
  });
});
