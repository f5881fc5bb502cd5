import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { trace } from "@opentelemetry/api";
import { afterAll, expect, it, vi } from "vitest";
import { startTracing } from "./sdk.ts";

afterAll(() => vi.unstubAllEnvs());

// Its own file: the OpenTelemetry API keeps one global setup per process.
it("exports OTLP/HTTP protobuf when OTEL_EXPORTER_OTLP_TRACES_PROTOCOL asks for it", async () => {
  const received: { path?: string; contentType?: string; bytes: number }[] = [];
  const server = createServer((req, res) => {
    let bytes = 0;
    req.on("data", (c: Buffer) => (bytes += c.length));
    req.on("end", () => {
      received.push({ path: req.url, contentType: req.headers["content-type"], bytes });
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  try {
    vi.stubEnv("OTEL_TRACES_EXPORTER", "otlp");
    vi.stubEnv("OTEL_TRACES_SAMPLER", "always_on");
    vi.stubEnv("OTEL_EXPORTER_OTLP_ENDPOINT", `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    vi.stubEnv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/protobuf");
    const tracing = await startTracing("spec-service", process.env);
    trace.getTracer("spec").startSpan("s").end();
    await tracing.shutdown(); // flushes the batch
    expect(received).toEqual([{ path: "/v1/traces", contentType: "application/x-protobuf", bytes: expect.any(Number) }]);
    expect(received[0]!.bytes).toBeGreaterThan(0);
  } finally {
    server.close();
  }
});
