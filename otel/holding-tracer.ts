/**
 * The tracer provider of the outcome policy (otel/outcome-sampling.ts): the SDK's, except that a
 * span the policy's sampler does not record — its trace neither picked nor kept when it starts — is
 * a {@link HeldSpan} instead of a non-recording one. The code that makes spans is unchanged: it
 * asks `trace.getTracer()` as always and gets a span that records.
 */
import {
  type Context,
  context as contextApi,
  isSpanContextValid,
  type Span,
  SpanKind,
  type SpanOptions,
  TraceFlags,
  trace,
  type Tracer,
  type TracerOptions,
  type TracerProvider,
} from "@opentelemetry/api";
import type { InstrumentationScope } from "@opentelemetry/core";
import type { Resource } from "@opentelemetry/resources";
import { type AttributeLimits, HeldSpan, type HeldSpanOrigin } from "./held-span.ts";

/** Where held spans go when they end: the policy's span processor. */
export interface HeldSpanSink {
  heldSpanEnded(span: HeldSpan): void;
}

export interface HoldingTracerProviderOptions {
  resource: Resource;
  limits: AttributeLimits;
  sink: HeldSpanSink;
}

export class HoldingTracerProvider implements TracerProvider {
  private readonly tracers = new Map<string, HoldingTracer>();

  constructor(
    private readonly sdk: TracerProvider,
    private readonly options: HoldingTracerProviderOptions,
  ) {}

  getTracer(name: string, version?: string, options?: TracerOptions): Tracer {
    const key = `${name}@${version ?? ""}:${options?.schemaUrl ?? ""}`;
    let tracer = this.tracers.get(key);
    if (!tracer) {
      const scope: InstrumentationScope = { name, version, schemaUrl: options?.schemaUrl };
      tracer = new HoldingTracer(this.sdk.getTracer(name, version, options), scope, this.options);
      this.tracers.set(key, tracer);
    }
    return tracer;
  }
}

class HoldingTracer implements Tracer, HeldSpanOrigin {
  readonly resource: Resource;
  readonly limits: AttributeLimits;
  private readonly sink: HeldSpanSink;

  constructor(
    private readonly sdk: Tracer,
    readonly scope: InstrumentationScope,
    options: HoldingTracerProviderOptions,
  ) {
    this.resource = options.resource;
    this.limits = options.limits;
    this.sink = options.sink;
  }

  startSpan(name: string, options: SpanOptions = {}, context: Context = contextApi.active()): Span {
    const span = this.sdk.startSpan(name, options, context);
    const ids = span.spanContext();
    // Recorded: picked or kept, the SDK's span. Invalid: tracing suppressed, nothing to hold.
    if (span.isRecording() || !isSpanContextValid(ids)) return span;
    const parent = options.root ? undefined : trace.getSpanContext(context);
    return new HeldSpan(
      this,
      // Marked sampled, as under always_on: the trace may yet be kept, so whoever comes next records it.
      { traceId: ids.traceId, spanId: ids.spanId, traceFlags: TraceFlags.SAMPLED, traceState: ids.traceState },
      name,
      options.kind ?? SpanKind.INTERNAL,
      parent && isSpanContextValid(parent) ? parent : undefined,
      options.links,
      options.attributes,
      options.startTime,
    );
  }

  startActiveSpan<F extends (span: Span) => unknown>(
    name: string,
    ...args: [F] | [SpanOptions, F] | [SpanOptions, Context, F]
  ): ReturnType<F> {
    const fn = args[args.length - 1] as (span: Span) => ReturnType<F>;
    const options = args.length > 1 ? (args[0] as SpanOptions) : undefined;
    const parent = args.length > 2 ? (args[1] as Context) : contextApi.active();
    const span = this.startSpan(name, options, parent);
    return contextApi.with(trace.setSpan(parent, span), fn, undefined, span);
  }

  heldSpanEnded(span: HeldSpan): void {
    this.sink.heldSpanEnded(span);
  }
}
