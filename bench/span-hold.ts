/**
 * What a span costs in-process, by what happens to it: not recorded (tracing off), recorded and let
 * go at once, or held by the outcome policy's processor (otel/outcome-sampling.ts) in a ring of N
 * spans, none of them kept — as the SDK's spans (the policy under the NodeSDK, and every service
 * before otel/held-span.ts) or as held spans (the policy as the services run it). A messaging CONSUMER span with its attributes, as
 * nats/consumer-span.ts makes it. The figures behind BENCHMARKS.md "Tracing: the outcome policy".
 *
 *   node --import tsx --max-semi-space-size=4 --heap-growing-percent=50 bench/span-hold.ts [--spans 300000] [--hold 8192]
 */
import { parseArgs } from "node:util";
import { defaultResource } from "@opentelemetry/resources";
import { ROOT_CONTEXT, SpanKind, type Tracer } from "@opentelemetry/api";
import { AlwaysOffSampler, AlwaysOnSampler, NoopSpanProcessor, ParentBasedSampler, TracerProvider } from "@opentelemetry/sdk-trace";
import { eventDestination } from "../nats/subject-templates.ts";
import { consumerAttributes, messagingSpanName, PROCESS_OPERATION } from "../otel/messaging-attributes.ts";
import { HoldingTracerProvider } from "../otel/holding-tracer.ts";
import { OutcomeSampler, OutcomeSpanProcessor } from "../otel/outcome-sampling.ts";

const { values } = parseArgs({ options: { spans: { type: "string", default: "300000" }, hold: { type: "string", default: "8192" } } });
const SPANS = Number(values.spans);
const HOLD = Number(values.hold);
const SUBJECT = "orders.7.0b9c3c55-5d0e-4b43-9d65-3b0a3b7a2f10.ORDER_CREATED";
const NAME = messagingSpanName(PROCESS_OPERATION.name, { template: "orders.{partition}.{orderId}.ORDER_CREATED" });

type Mode = "not recorded" | "recorded" | "held as SDK spans" | "held compactly";

function tracerFor(mode: Mode): Tracer {
  if (mode === "held compactly") {
    const policy = new OutcomeSpanProcessor(new NoopSpanProcessor(), { happyRatio: 0, holdSpans: HOLD });
    const resource = defaultResource();
    const sdk = new TracerProvider({ resource, sampler: new OutcomeSampler(policy), spanProcessors: [policy] });
    const limits = { attributeCountLimit: 128, attributeValueLengthLimit: Number.POSITIVE_INFINITY };
    return new HoldingTracerProvider(sdk, { resource, limits, sink: policy }).getTracer("bench");
  }
  const processor =
    mode === "held as SDK spans"
      ? new OutcomeSpanProcessor(new NoopSpanProcessor(), { happyRatio: 0, holdSpans: HOLD })
      : new NoopSpanProcessor();
  const sampler = mode === "not recorded" ? new ParentBasedSampler({ root: new AlwaysOffSampler() }) : new AlwaysOnSampler();
  return new TracerProvider({ sampler, spanProcessors: [processor] }).getTracer("bench");
}

function oneSpan(tracer: Tracer, i: number): void {
  const span = tracer.startSpan(NAME, { kind: SpanKind.CONSUMER }, ROOT_CONTEXT);
  if (span.isRecording()) {
    span.setAttributes(
      consumerAttributes({
        destination: eventDestination(SUBJECT),
        consumerGroup: "payment-lane3",
        bodySize: 300,
        stream: "ORDERS",
        streamSequence: i,
        deliveryCount: 1,
        eventType: "ORDER_CREATED",
        orderId: "0b9c3c55-5d0e-4b43-9d65-3b0a3b7a2f10",
      }),
    );
  }
  span.end();
}

for (const mode of ["not recorded", "recorded", "held as SDK spans", "held compactly"] as const) {
  const tracer = tracerFor(mode);
  for (let i = 0; i < 50_000; i++) oneSpan(tracer, i);
  const cpu = process.cpuUsage();
  const started = performance.now();
  for (let i = 0; i < SPANS; i++) oneSpan(tracer, i);
  const used = process.cpuUsage(cpu);
  const label = mode.startsWith("held") ? `${mode} (ring of ${HOLD})` : mode;
  console.log(
    `${label.padEnd(38)} ${((used.user + used.system) / SPANS).toFixed(2)} µs CPU per span (GC threads included), ${(((performance.now() - started) * 1000) / SPANS).toFixed(2)} µs wall`,
  );
}
