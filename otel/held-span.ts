/**
 * A span of a trace the outcome policy has neither picked nor kept (yet): what the SDK's span would
 * record, in one small object, turned into a `ReadableSpan` only if its trace is kept.
 *
 * Why not the SDK's span: under the policy nearly every span is held for a second or more, waiting
 * for its order's outcome, so it outlives the young generation and is copied twice and promoted —
 * with the SDK's span, a dozen objects (its times, status, limits, events and links arrays…). That
 * cost 7–10 µs per span against 2–3 µs for a span recorded and let go (`bench/span-hold.ts`,
 * BENCHMARKS.md "Tracing: the outcome policy"). This one is an object with its attributes, and the
 * conversion is paid only for the few traces exported.
 *
 * It behaves as the SDK's span for everything the code calls (attributes, status, events, links,
 * exceptions, a new name, end): held-span.unit.spec.ts compares what each exports.
 */
import {
  type Attributes,
  type AttributeValue,
  type Exception,
  type HrTime,
  type Link,
  type Span,
  type SpanAttributes,
  type SpanContext,
  type SpanKind,
  type SpanStatus,
  SpanStatusCode,
  type TimeInput,
} from "@opentelemetry/api";
import {
  addHrTimes,
  cleanAttributes,
  hrTimeToMilliseconds,
  type InstrumentationScope,
  isTimeInput,
  millisToHrTime,
  timeInputToHrTime,
} from "@opentelemetry/core";
import type { Resource } from "@opentelemetry/resources";
import type { ReadableSpan, TimedEvent } from "@opentelemetry/sdk-trace";
import { ATTR_EXCEPTION_MESSAGE, ATTR_EXCEPTION_STACKTRACE, ATTR_EXCEPTION_TYPE } from "@opentelemetry/semantic-conventions";

/** Where a held span comes from and goes when it ends (otel/holding-tracer.ts). */
export interface HeldSpanOrigin {
  readonly resource: Resource;
  readonly scope: InstrumentationScope;
  /** The SDK's span limits on attributes (OTEL_SPAN_ATTRIBUTE_*), applied when the span is exported. */
  readonly limits: AttributeLimits;
  /** The span ended: the policy exports it, keeps its trace, or holds it. */
  heldSpanEnded(span: HeldSpan): void;
}

export interface AttributeLimits {
  attributeCountLimit: number;
  attributeValueLengthLimit: number;
}

const UNSET: SpanStatus = Object.freeze({ code: SpanStatusCode.UNSET });

export class HeldSpan implements Span {
  readonly attributes: Attributes;
  status: SpanStatus = UNSET;
  private events: TimedEvent[] | undefined;
  /** Epoch milliseconds, as the SDK's span takes its start (Date.now()). */
  private readonly startMs: number;
  /** performance.now() at the start: the duration is measured on it, as the SDK does. */
  private readonly startPerf: number;
  /** Milliseconds; -1 while the span is open. */
  private durationMs = -1;

  constructor(
    private readonly origin: HeldSpanOrigin,
    private readonly context: SpanContext,
    public name: string,
    readonly kind: SpanKind,
    readonly parentSpanContext: SpanContext | undefined,
    private links: Link[] | undefined,
    attributes: SpanAttributes | undefined,
    startTime: TimeInput | undefined,
  ) {
    this.attributes = attributes ? { ...attributes } : {};
    this.startPerf = performance.now();
    this.startMs = startTime === undefined ? Date.now() : hrTimeToMilliseconds(timeInputToHrTime(startTime));
  }

  spanContext(): SpanContext {
    return this.context;
  }

  setAttribute(key: string, value: AttributeValue | undefined): this {
    if (this.durationMs < 0 && value != null) this.attributes[key] = value;
    return this;
  }

  setAttributes(attributes: SpanAttributes): this {
    if (this.durationMs < 0) Object.assign(this.attributes, attributes);
    return this;
  }

  addEvent(name: string, attributesOrStartTime?: SpanAttributes | TimeInput, startTime?: TimeInput): this {
    if (this.durationMs >= 0) return this;
    const attributes = isTimeInput(attributesOrStartTime) ? undefined : attributesOrStartTime;
    const time = isTimeInput(attributesOrStartTime) ? attributesOrStartTime : startTime;
    const event: TimedEvent = { name, time: time === undefined ? this.now() : timeInputToHrTime(time), droppedAttributesCount: 0 };
    if (attributes) event.attributes = attributes;
    (this.events ??= []).push(event);
    return this;
  }

  addLink(link: Link): this {
    return this.addLinks([link]);
  }

  addLinks(links: Link[]): this {
    // A copy: the first links are the caller's array, from the span's options.
    if (this.durationMs < 0) this.links = [...(this.links ?? []), ...links];
    return this;
  }

  /** As the SDK's span: UNSET changes nothing and OK is final. */
  setStatus(status: SpanStatus): this {
    if (this.durationMs >= 0 || status.code === SpanStatusCode.UNSET || this.status.code === SpanStatusCode.OK) return this;
    this.status =
      status.code === SpanStatusCode.ERROR && typeof status.message === "string"
        ? { code: status.code, message: status.message }
        : { code: status.code };
    return this;
  }

  updateName(name: string): this {
    if (this.durationMs < 0) this.name = name;
    return this;
  }

  end(endTime?: TimeInput): void {
    if (this.durationMs >= 0) return;
    const duration =
      endTime === undefined ? performance.now() - this.startPerf : hrTimeToMilliseconds(timeInputToHrTime(endTime)) - this.startMs;
    this.durationMs = Math.max(0, duration);
    this.origin.heldSpanEnded(this);
  }

  isRecording(): boolean {
    return this.durationMs < 0;
  }

  /** The SDK's attributes for an exception: its type (code or name), message and stack. */
  recordException(exception: Exception, time?: TimeInput): void {
    const attributes: SpanAttributes = {};
    if (typeof exception === "string") attributes[ATTR_EXCEPTION_MESSAGE] = exception;
    else if (exception) {
      if (exception.code) attributes[ATTR_EXCEPTION_TYPE] = exception.code.toString();
      else if (exception.name) attributes[ATTR_EXCEPTION_TYPE] = exception.name;
      if (exception.message) attributes[ATTR_EXCEPTION_MESSAGE] = exception.message;
      if (exception.stack) attributes[ATTR_EXCEPTION_STACKTRACE] = exception.stack;
    }
    if (attributes[ATTR_EXCEPTION_TYPE] || attributes[ATTR_EXCEPTION_MESSAGE]) this.addEvent("exception", attributes, time);
  }

  /** What the exporter reads: the SDK's span, ended, as a plain object. */
  readable(): ReadableSpan {
    const context = this.context;
    const limits = this.origin.limits;
    const { attributes = {}, droppedAttributesCount = 0 } = cleanAttributes(this.attributes, limits);
    const startTime = millisToHrTime(this.startMs);
    const duration = millisToHrTime(this.durationMs);
    return {
      name: this.name,
      kind: this.kind,
      spanContext: () => context,
      parentSpanContext: this.parentSpanContext,
      startTime,
      endTime: addHrTimes(startTime, duration),
      duration,
      ended: true,
      status: this.status,
      attributes,
      links: (this.links ?? []).map((link) => ({ context: link.context, ...cleanAttributes(link.attributes, limits) })),
      events: (this.events ?? []).map((event) => (event.attributes ? { ...event, ...cleanAttributes(event.attributes, limits) } : event)),
      resource: this.origin.resource,
      instrumentationScope: this.origin.scope,
      droppedAttributesCount,
      droppedEventsCount: 0,
      droppedLinksCount: 0,
    };
  }

  /** Now, on the span's clock: its start plus the time passed since, as the SDK's span reads it. */
  private now(): HrTime {
    return millisToHrTime(this.startMs + (performance.now() - this.startPerf));
  }
}
