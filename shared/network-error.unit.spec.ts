import { describe, expect, it } from "vitest";
import { networkFailureReason } from "./network-error.ts";

/** A fetch failure as Node's undici throws it: a TypeError whose cause is the socket error. */
const nodeFailure = (code: string, message: string) =>
  Object.assign(new TypeError("fetch failed"), { cause: Object.assign(new Error(message), { code }) });

describe("networkFailureReason", () => {
  it("given an abort by AbortSignal.timeout (a DOMException, not always an Error), then timeout", () => {
    expect(networkFailureReason(new DOMException("The operation was aborted due to timeout", "TimeoutError"))).toBe("timeout");
    expect(networkFailureReason({ name: "AbortError", message: "aborted" })).toBe("timeout");
  });

  it("given Node's socket errors in the cause, then the words a user can act on", () => {
    expect(networkFailureReason(nodeFailure("ECONNREFUSED", "connect ECONNREFUSED 127.0.0.1:9"))).toBe("connection refused");
    expect(networkFailureReason(nodeFailure("ENOTFOUND", "getaddrinfo ENOTFOUND jaeger"))).toBe("host name not found");
    expect(networkFailureReason(nodeFailure("ECONNRESET", "read ECONNRESET"))).toBe("connection closed");
    expect(networkFailureReason(nodeFailure("UND_ERR_SOCKET", "other side closed"))).toBe("connection closed");
  });

  it("given Deno's message-only errors, then the same words", () => {
    expect(networkFailureReason(new TypeError("error sending request: Connection refused (os error 111)"))).toBe("connection refused");
    expect(networkFailureReason(new TypeError("dns error: failed to lookup address information"))).toBe("host name not found");
  });

  it("given anything else, then the innermost code or message, the thrown value itself, or 'unknown error'", () => {
    expect(networkFailureReason(Object.assign(new Error("fetch failed"), { cause: new Error("certificate has expired") }))).toBe(
      "certificate has expired",
    );
    expect(networkFailureReason("boom")).toBe("boom");
    expect(networkFailureReason({})).toBe("unknown error");
    expect(networkFailureReason(null)).toBe("unknown error");
  });
});
