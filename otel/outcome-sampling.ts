/**
 * The outcome sampling policy (`OTEL_TRACES_SAMPLER=orderstream_outcome`): every trace of an order
 * that went wrong or was slow is exported complete, and of the happy ones a share
 * (`OTEL_TRACES_SAMPLER_ARG`, default 0.1) picked by trace id, the same share in every service.
 *
 * Why not a head sampler: whether an order fails (declined, out of stock, cancelled, an error, slow)
 * is known only after its first spans have ended — in other processes. So every service records
 * every span, as with `always_on`, and holds the spans of the traces not picked by id instead of
 * exporting them. The spans of a trace neither picked nor kept when they start are recorded in a
 * compact form, not as the SDK's spans ({@link OutcomeSampler}, otel/holding-tracer.ts,
 * otel/held-span.ts): holding is what the policy costs, and it happens to nearly every span. A trace is *kept* when a span of it ends that says it went wrong (status ERROR,
 * an HTTP answer of 400 or more, an event of the compensating path), or when a service says so
 * ({@link keepTrace}: a slow order, a cancelled one's first trace); the keeping service tells every
 * other instance over core NATS (nats/trace-keeping.ts), and each sends on the spans it held and
 * every later span of that trace. The spans of traces nobody kept are let go once newer spans need
 * the room: the hold is bounded by a span count (`TRACE_HOLD_SPANS`), not by time, so memory stays
 * bounded and a quiet service holds spans for long.
 *
 * What it costs and saves is measured by `bench/run.ts --seed-only --seed-tracing --trace-policy` (figures in
 * BENCHMARKS.md): recording stays, exporting (the larger part) falls to the kept share.
 */
import { type Context, SpanStatusCode } from "@opentelemetry/api";
import {
  type ReadableSpan,
  type Sampler,
  SamplingDecision,
  type SamplingResult,
  type Span,
  type SpanProcessor,
} from "@opentelemetry/sdk-trace";
import { envDefault } from "../shared/env-vars.ts";
import { EVENT_TYPES, type EventType } from "../shared/events.ts";
import { HeldSpan } from "./held-span.ts";
import type { HeldSpanSink } from "./holding-tracer.ts";
import { EVENT_TYPE_ATTR } from "./messaging-attributes.ts";

/** The `OTEL_TRACES_SAMPLER` value that turns the policy on. */
export const OUTCOME_SAMPLER = "orderstream_outcome";
/** Share of the happy orders' traces kept when `OTEL_TRACES_SAMPLER_ARG` is unset. */
export const DEFAULT_HAPPY_RATIO = 0.1;
/** Spans held per process, waiting for their trace's outcome, when `TRACE_HOLD_SPANS` is unset. */
export const DEFAULT_HOLD_SPANS = Number(envDefault("TRACE_HOLD_SPANS"));
/** How many kept trace ids a process remembers, for the spans of a kept trace that end later. */
const REMEMBERED_KEPT = 4_096;

/** A happy order's events: a span about any other event type marks its trace as one to keep. */
const HAPPY_EVENTS: ReadonlySet<string> = new Set<EventType>(["ORDER_CREATED", "PAYMENT_COMPLETED", "SHIPPING_READY"]);
const COMPENSATING_EVENTS: ReadonlySet<string> = new Set(EVENT_TYPES.filter((t) => !HAPPY_EVENTS.has(t)));

/** Whether a span on its own says its trace is one to keep: an error, a failed request, the compensating path. */
export function spanMarksTraceKept(span: Pick<ReadableSpan, "status" | "attributes">): boolean {
  if (span.status.code === SpanStatusCode.ERROR) return true;
  const status = span.attributes["http.response.status_code"];
  if (typeof status === "number" && status >= 400) return true;
  const eventType = span.attributes[EVENT_TYPE_ATTR];
  return typeof eventType === "string" && COMPENSATING_EVENTS.has(eventType);
}

/**
 * Whether a trace is among the happy ones kept: the trace id's last 8 hex digits against the ratio
 * (what TraceIdRatioBasedSampler reads), so every service picks the same traces without asking.
 */
export function pickedById(traceId: string, ratio: number): boolean {
  if (ratio >= 1) return true;
  if (ratio <= 0) return false;
  // Read digit by digit: called for every span, so no substring is made.
  let value = 0;
  for (let i = traceId.length - 8; i < traceId.length; i++) value = value * 16 + hexDigit(traceId.charCodeAt(i));
  return value < ratio * 0x1_0000_0000;
}

/** The value of a lower-case hex digit's char code (trace ids are lower-case hex). */
function hexDigit(code: number): number {
  return code <= 57 ? code - 48 : code - 87;
}

export interface OutcomeSamplingOptions {
  /** Share of the other traces exported anyway, picked by trace id. */
  happyRatio: number;
  /** The most spans held at once; past it, the oldest traces' spans are let go. */
  holdSpans: number;
}

export interface OutcomeSamplingStats {
  /** Spans handed on to the exporter. */
  exported: number;
  /** Spans let go: their trace was neither picked nor kept before newer spans needed the room. */
  sampledOut: number;
  /** Spans held now. */
  held: number;
  /** Traces kept (decided here or told by another instance). */
  keptTraces: number;
  /** Traces kept here that could not be announced (the connection closing): the others' spans of them go. */
  unannounced: number;
}

/**
 * The span processor of the policy, in front of the exporting one (the batch span processor):
 * it hands on what is to be exported, holds the rest, and lets go of what nobody kept.
 */
export class OutcomeSpanProcessor implements SpanProcessor, HeldSpanSink {
  /**
   * Held spans in a ring, oldest at `next`, with their trace ids beside them: a new span takes the
   * oldest slot, letting its span go. A ring rather than a map of traces, because holding must cost
   * next to nothing per span (it happens to nearly every span) while a keep, which scans the ring,
   * is rare (BENCHMARKS.md, "Tracing: the outcome policy").
   */
  private readonly spans: (HeldSpan | ReadableSpan | undefined)[];
  private readonly traceIds: string[];
  /** Where each held trace's first span is: its spans are there or after (the ring is in end order). */
  private readonly firstSlot = new Map<string, number>();
  private next = 0;
  private heldCount = 0;
  /** Kept trace ids, oldest first (bounded: a kept trace's late spans come within moments). */
  private readonly kept = new Set<string>();
  private announce: ((traceId: string) => void) | undefined;
  private readonly counts = { exported: 0, sampledOut: 0, keptTraces: 0, unannounced: 0 };

  constructor(
    private readonly exporting: SpanProcessor,
    private readonly options: OutcomeSamplingOptions,
  ) {
    const size = Math.max(1, Math.floor(options.holdSpans));
    this.spans = new Array(size).fill(undefined);
    this.traceIds = new Array(size).fill("");
  }

  onStart(span: Span, parentContext: Context): void {
    this.exporting.onStart(span, parentContext);
  }

  /** Whether the trace's spans go to the exporter as they end: picked by id, or kept. */
  exports(traceId: string): boolean {
    return this.kept.has(traceId) || pickedById(traceId, this.options.happyRatio);
  }

  /** An SDK span ended: a trace exported when it started, unless the SDK's own sampler recorded every span (NodeSDK). */
  onEnd(span: ReadableSpan): void {
    this.decide(span.spanContext().traceId, span);
  }

  /** A held span ended (otel/holding-tracer.ts): its trace was neither picked nor kept when it started. */
  heldSpanEnded(span: HeldSpan): void {
    this.decide(span.spanContext().traceId, span);
  }

  private decide(traceId: string, span: HeldSpan | ReadableSpan): void {
    if (this.exports(traceId)) {
      this.export(span);
    } else if (spanMarksTraceKept(span)) {
      this.keep(traceId, true);
      this.export(span);
    } else {
      this.hold(traceId, span);
    }
  }

  /**
   * Keeps the trace: its held spans and every later one are exported. `tellOthers`: announce it
   * (false when the news came from another instance).
   */
  keep(traceId: string, tellOthers: boolean): void {
    if (this.kept.has(traceId)) return;
    this.kept.add(traceId);
    this.counts.keptTraces++;
    if (this.kept.size > REMEMBERED_KEPT) this.kept.delete(this.kept.values().next().value as string);
    const first = this.firstSlot.get(traceId);
    if (first !== undefined) {
      this.firstSlot.delete(traceId);
      this.exportHeld(traceId, first);
    }
    if (tellOthers && this.announce) {
      // Called from span.end(): telling the others is worth a try, never an exception in the caller.
      try {
        this.announce(traceId);
      } catch {
        this.counts.unannounced++;
      }
    }
  }

  /** Where a kept trace is announced to the other instances (nats/trace-keeping.ts sets it). */
  announceWith(announce: ((traceId: string) => void) | undefined): void {
    this.announce = announce;
  }

  stats(): OutcomeSamplingStats {
    return { ...this.counts, held: this.heldCount };
  }

  forceFlush(): Promise<void> {
    return this.exporting.forceFlush();
  }

  /** Held spans go nowhere: their traces were not kept while the process ran. */
  shutdown(): Promise<void> {
    this.counts.sampledOut += this.heldCount;
    this.spans.fill(undefined);
    this.traceIds.fill("");
    this.firstSlot.clear();
    this.heldCount = 0;
    return this.exporting.shutdown();
  }

  private export(span: HeldSpan | ReadableSpan): void {
    this.counts.exported++;
    this.exporting.onEnd(span instanceof HeldSpan ? span.readable() : span);
  }

  private hold(traceId: string, span: HeldSpan | ReadableSpan): void {
    const i = this.next;
    if (this.spans[i] !== undefined) {
      this.counts.sampledOut++;
      // Its first span going means the trace can no longer be sent whole: it is not looked for any more.
      const evicted = this.traceIds[i]!;
      if (this.firstSlot.get(evicted) === i) this.firstSlot.delete(evicted);
    } else {
      this.heldCount++;
    }
    this.spans[i] = span;
    this.traceIds[i] = traceId;
    if (!this.firstSlot.has(traceId)) this.firstSlot.set(traceId, i);
    this.next = i + 1 === this.spans.length ? 0 : i + 1;
  }

  /** Exports the held spans of a trace, from its first slot up to the newest. */
  private exportHeld(traceId: string, first: number): void {
    const size = this.spans.length;
    const count = (this.next - first + size) % size || size;
    for (let k = 0, i = first; k < count; k++, i = i + 1 === size ? 0 : i + 1) {
      if (this.traceIds[i] !== traceId) continue;
      const span = this.spans[i];
      this.spans[i] = undefined;
      this.traceIds[i] = "";
      if (span) {
        this.heldCount--;
        this.export(span);
      }
    }
  }
}

/**
 * The policy's sampler: a span of a trace the processor exports (picked by id, or kept) is the SDK's
 * recorded span; any other is not recorded by the SDK, and otel/holding-tracer.ts records it as a
 * {@link HeldSpan}. The parent's sampled flag is not read: every service decides by the trace id and
 * what it was told.
 */
export class OutcomeSampler implements Sampler {
  constructor(private readonly policy: OutcomeSpanProcessor) {}

  shouldSample(_context: Context, traceId: string): SamplingResult {
    return this.policy.exports(traceId) ? RECORD : HOLD;
  }

  toString(): string {
    return "OrderstreamOutcomeSampler";
  }
}

const RECORD: SamplingResult = Object.freeze({ decision: SamplingDecision.RECORD_AND_SAMPLED });
const HOLD: SamplingResult = Object.freeze({ decision: SamplingDecision.NOT_RECORD });

let active: OutcomeSpanProcessor | undefined;

/** Makes `processor` the one {@link keepTrace} reaches (otel/sdk.ts, at start). */
export function activateOutcomeSampling(processor: OutcomeSpanProcessor | undefined): void {
  active = processor;
}

/** The policy's processor, when the policy is on. */
export function outcomeSampling(): OutcomeSpanProcessor | undefined {
  return active;
}

/**
 * Keeps a trace whole under the outcome policy, and tells the other instances; nothing when the
 * policy is off (every span is exported, or none). For what only the calling code knows: an order
 * that took too long, a cancelled order's first trace.
 */
export function keepTrace(traceId: string): void {
  active?.keep(traceId, true);
}
