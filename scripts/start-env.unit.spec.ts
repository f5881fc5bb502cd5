/**
 * Where the services listen: `npm start` binds them to 127.0.0.1 unless HOST is set; a service run
 * on its own (`npm run service`, compose, the image) keeps every interface; the banner's URLs
 * point at the address they are bound to.
 */
import { describe, expect, it } from "vitest";
import { PortVariableError, serviceEnv, servicesToStart, StartUsageError, startHost, startPorts } from "./start-env.ts";
import { DEFAULT_HOST, loadConfig, localUrlOf } from "../shared/config.ts";

describe("npm start's HOST", () => {
  it("given no HOST, then the services listen on 127.0.0.1 only", () => {
    expect(startHost({})).toBe("127.0.0.1");
    expect(startHost({ HOST: "  " })).toBe("127.0.0.1");
  });

  it("given HOST, then that address", () => {
    expect(startHost({ HOST: "0.0.0.0" })).toBe("0.0.0.0");
    expect(startHost({ HOST: "::1" })).toBe("::1");
  });

  it("hands each service its HOST, PORT, NATS server and (with the local server's auth) its own user", () => {
    const env = serviceEnv(
      { PATH: "/bin", HOST: "ignored" },
      { natsUrl: "nats://127.0.0.1:4222", host: "127.0.0.1", port: 3001, credentials: { user: "payment", password: "pw-x" } },
    );
    expect(env).toEqual({
      PATH: "/bin",
      HOST: "127.0.0.1",
      PORT: "3001",
      NATS_URL: "nats://127.0.0.1:4222",
      NATS_USER: "payment",
      NATS_PASSWORD: "pw-x",
      OTEL_TRACES_EXPORTER: "none",
    });
  });

  it("leaves the user's NATS credentials and trace export alone when it runs no server of its own", () => {
    const base = { NATS_USER: "me", NATS_PASSWORD: "mine", OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:4318" };
    const env = serviceEnv(base, { natsUrl: "nats://nats.example:4222", host: "127.0.0.1", port: 3000 });
    expect(env).toMatchObject({ ...base, HOST: "127.0.0.1", PORT: "3000" });
    expect(env.OTEL_TRACES_EXPORTER).toBeUndefined();
  });
});

describe("a service on its own", () => {
  it("given no HOST, then it listens on every interface (compose, the image, npm run service)", () => {
    expect(DEFAULT_HOST).toBe("0.0.0.0");
    expect(loadConfig("order", {}).host).toBe("0.0.0.0");
    expect(loadConfig("order", { HOST: "127.0.0.1" }).host).toBe("127.0.0.1");
  });
});

describe("localUrlOf", () => {
  it.each([
    ["127.0.0.1", "http://127.0.0.1:3000"],
    ["0.0.0.0", "http://127.0.0.1:3000"],
    ["::", "http://[::1]:3000"],
    ["::1", "http://[::1]:3000"],
    ["localhost", "http://localhost:3000"],
    ["192.0.2.7", "http://192.0.2.7:3000"],
  ])("given a server bound to %s, then it is reached at %s", (host, url) => expect(localUrlOf(host, 3000)).toBe(url));
});

describe("npm start's ports", () => {
  it("given no port variables, then the defaults, and 4222-or-free for NATS", () => {
    expect(startPorts({})).toEqual({
      nats: null,
      services: { order: 3000, payment: 3001, shipping: 3002, notification: 3003, loyalty: 3004 },
    });
  });

  it("given <NAME>_PORT and NATS_PORT, then those", () => {
    const ports = startPorts({ ORDER_PORT: "13000", NOTIFICATION_PORT: " 13003 ", NATS_PORT: "14222" });
    expect(ports).toEqual({ nats: 14222, services: { order: 13000, payment: 3001, shipping: 3002, notification: 13003, loyalty: 3004 } });
  });

  it("given a port that is not one, then an error naming the variable", () => {
    expect(() => startPorts({ PAYMENT_PORT: "30o1" })).toThrow(PortVariableError);
    expect(() => startPorts({ PAYMENT_PORT: "30o1" })).toThrow("PAYMENT_PORT=30o1 is not a TCP port");
    expect(() => startPorts({ NATS_PORT: "70000" })).toThrow("NATS_PORT=70000");
  });
});

describe("npm start's services", () => {
  const FOUR = ["order", "payment", "shipping", "notification"];

  it("given no arguments, then the four, not the opt-in loyalty service", () => {
    expect(servicesToStart([])).toEqual(FOUR);
  });

  it("given --with loyalty (or --with=loyalty, or a comma list), then the four and loyalty", () => {
    expect(servicesToStart(["--with", "loyalty"])).toEqual([...FOUR, "loyalty"]);
    expect(servicesToStart(["--with=loyalty"])).toEqual([...FOUR, "loyalty"]);
    expect(servicesToStart(["--with", "loyalty,order"])).toEqual([...FOUR, "loyalty"]);
  });

  it("given an unknown service, a missing name or another argument, then a usage error naming what it takes", () => {
    expect(() => servicesToStart(["--with", "points"])).toThrow(StartUsageError);
    expect(() => servicesToStart(["--with", "points"])).toThrow(/no such service \(services started only when asked: loyalty\)/);
    expect(() => servicesToStart(["--with"])).toThrow(/--with needs a service name; usage: npm start \[-- --with <loyalty>/);
    expect(() => servicesToStart(["--loyalty"])).toThrow(/unknown argument "--loyalty"/);
  });

  it("gives loyalty its port 3004, movable with LOYALTY_PORT like the others", () => {
    expect(startPorts({}).services.loyalty).toBe(3004);
    expect(startPorts({ LOYALTY_PORT: "3104" }).services.loyalty).toBe(3104);
  });
});
