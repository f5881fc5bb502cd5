/**
 * The CLIENT span's attributes (http-client-span.ts) after the HTTP client conventions; the span
 * around a real request is http-client-span.int.spec.ts.
 */
import { describe, expect, it } from "vitest";
import { httpClientErrorType, httpClientRequestAttributes, httpClientResponseAttributes, redactedUrl } from "./http-client-span.ts";

describe("client attribute builders", () => {
  it("given a URL with credentials and a signature, then url.full with both redacted", () => {
    expect(redactedUrl(new URL("https://user:pw@hooks.example/h?sig=abc&keep=1"))).toBe(
      "https://REDACTED:REDACTED@hooks.example/h?sig=REDACTED&keep=1",
    );
  });

  it("given no explicit port, then the scheme's default as server.port", () => {
    expect(httpClientRequestAttributes("POST", new URL("https://hooks.example/h"))).toMatchObject({
      "server.address": "hooks.example",
      "server.port": 443,
    });
    expect(httpClientRequestAttributes("POST", new URL("http://[::1]/h"))).toMatchObject({ "server.address": "::1", "server.port": 80 });
  });

  it("given a 2xx, then no error.type", () => {
    expect(httpClientResponseAttributes(200)).toEqual({ "http.response.status_code": 200 });
  });

  it("given an error without a code, then its name; given nothing usable, then _OTHER", () => {
    expect(httpClientErrorType(new DOMException("t", "TimeoutError"))).toBe("TimeoutError");
    expect(httpClientErrorType(new TypeError("fetch failed", { cause: Object.assign(new Error("x"), { code: "ENOTFOUND" }) }))).toBe(
      "ENOTFOUND",
    );
    expect(httpClientErrorType("weird")).toBe("_OTHER");
  });
});
