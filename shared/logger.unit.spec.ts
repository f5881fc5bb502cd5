// The JSON log lines: service, trace ids from the active span, and no secrets or card data.
import { Writable } from "node:stream";
import { context, ROOT_CONTEXT, trace, TraceFlags, type Context, type ContextManager } from "@opentelemetry/api";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "./logger.ts";

/** Just enough context propagation for synchronous code (the SDK's async-hooks one is the entry's business). */
class StackContextManager implements ContextManager {
  private stack: Context[] = [];
  active(): Context {
    return this.stack[this.stack.length - 1] ?? ROOT_CONTEXT;
  }
  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(
    ctx: Context,
    fn: F,
    thisArg?: ThisParameterType<F>,
    ...args: A
  ): ReturnType<F> {
    this.stack.push(ctx);
    try {
      return fn.call(thisArg, ...args);
    } finally {
      this.stack.pop();
    }
  }
  bind<T>(_ctx: Context, target: T): T {
    return target;
  }
  enable(): this {
    return this;
  }
  disable(): this {
    this.stack = [];
    return this;
  }
}

beforeAll(() => {
  context.setGlobalContextManager(new StackContextManager());
});
afterAll(() => {
  context.disable();
});

function capture() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString("utf8").split("\n").filter(Boolean)) lines.push(JSON.parse(l));
      done();
    },
  });
  return { lines, log: createLogger("payment-service", "info", stream) };
}

describe("createLogger", () => {
  it("writes JSON with the service, the level and the message", () => {
    const { lines, log } = capture();
    log.child({ orderId: "o-1", seq: 42 }).info("handled");
    expect(lines[0]).toMatchObject({ service: "payment-service", level: "info", msg: "handled", orderId: "o-1", seq: 42 });
    expect(typeof lines[0]!.time).toBe("string");
  });

  it("adds trace_id and span_id of the active span", () => {
    const { lines, log } = capture();
    const spanContext = { traceId: "0af7651916cd43dd8448eb211c80319c", spanId: "b7ad6b7169203331", traceFlags: TraceFlags.SAMPLED };
    context.with(trace.setSpanContext(context.active(), spanContext), () => log.info("inside"));
    log.info("outside");
    expect(lines[0]).toMatchObject({ trace_id: spanContext.traceId, span_id: spanContext.spanId });
    expect(lines[1]).not.toHaveProperty("trace_id");
  });

  it("redacts secrets and payment instrument data, and strips credentials from server URLs", () => {
    const { lines, log } = capture();
    log.info(
      {
        password: "hunter2",
        config: { natsPassword: "s3cret", orderApiToken: "tok" },
        headers: { authorization: "Bearer abc", "content-type": "application/json" },
        payment: { cardNumber: "4111111111111111", cvv: "123", amount: 12 },
        servers: ["nats://alice:pw@nats:4222", "nats://nats-2:4222"],
      },
      "connected",
    );
    const text = JSON.stringify(lines[0]);
    for (const secret of ["hunter2", "s3cret", '"tok"', "Bearer abc", "4111111111111111", '"123"', "alice", ":pw@"]) {
      expect(text).not.toContain(secret);
    }
    expect(lines[0]).toMatchObject({
      password: "[redacted]",
      headers: { authorization: "[redacted]", "content-type": "application/json" },
      payment: { cardNumber: "[redacted]", cvv: "[redacted]", amount: 12 },
      servers: ["nats://nats:4222", "nats://nats-2:4222"],
    });
  });

  it("redacts one level down without touching the caller's objects: secrets, URLs (arrays too), header bags", () => {
    const { lines, log } = capture();
    const config = { natsUrl: "nats://bob:pw2@nats:4222", servers: ["tls://carol:pw3@n1:4222", "n2:4222"], apiKey: "k-1", port: 4222 };
    const request = { method: "GET", headers: { authorization: "Bearer xyz", cookie: "sid=1", accept: "*/*" } };
    const err = Object.assign(new Error("boom"), { code: "E_BOOM" });
    log.error({ config, request, err, plain: 1 }, "failed");
    expect(lines[0]).toMatchObject({
      config: { natsUrl: "nats://nats:4222", servers: ["tls://n1:4222", "n2:4222"], apiKey: "[redacted]", port: 4222 },
      request: { method: "GET", headers: { authorization: "[redacted]", cookie: "[redacted]", accept: "*/*" } },
      err: { message: "boom", code: "E_BOOM", type: "Error" },
      plain: 1,
    });
    for (const secret of ["bob", "pw2", "carol", "pw3", "k-1", "xyz", "sid=1"]) expect(JSON.stringify(lines[0])).not.toContain(secret);
    // The objects handed to the logger are as they were.
    expect(config.apiKey).toBe("k-1");
    expect(config.servers[0]).toBe("tls://carol:pw3@n1:4222");
    expect(request.headers.authorization).toBe("Bearer xyz");
  });

  it("hands every line, as written, to the shipper as well as to its destination", () => {
    const written: string[] = [];
    const shipped: string[] = [];
    const log = createLogger("order-service", "info", { write: (l: string) => void written.push(l) }, (l) => shipped.push(l));
    log.info({ orderId: "o-1", password: "hunter2" }, "order accepted");
    log.debug("below the level: neither");
    expect(shipped).toEqual(written);
    expect(shipped).toHaveLength(1);
    expect(shipped[0]!.endsWith("\n")).toBe(true);
    expect(JSON.parse(shipped[0]!)).toMatchObject({
      service: "order-service",
      msg: "order accepted",
      orderId: "o-1",
      password: "[redacted]",
    });
  });
});
