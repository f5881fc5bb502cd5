/**
 * The outcome sampling policy (`OTEL_TRACES_SAMPLER=orderstream_outcome`): every trace of an order
 * that went wrong or was slow is exported complete, and of the happy ones a share
 * (`OTEL_TRACES_SAMPLER_ARG`, default 0.1) picked by trace id, the same share in every service.
 *
 * Why not a head sampler: whether an order fails (declined, out of stock, cancelled, an error, slow)
 * is known only after its first spans have ended — in other processes. So every service records
 * every span, as with `always_on`, and holds the spans of the traces not picked by id instead of
 * exporting them. A trace is *kept* when a span of it ends that says it went wrong (status ERROR,
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
import type { ReadableSpan, Span, SpanProcessor } from "@opentelemetry/sdk-trace";
import { envDefault } from "../shared/env-vars.ts";
import { EVENT_TYPES, type EventType } from "../shared/events.ts";
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
export function spanMarksTraceKept(span: ReadableSpan): boolean {
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
  return Number.parseInt(traceId.slice(-8), 16) < ratio * 0x1_0000_0000;
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
}

/**
 * The span processor of the policy, in front of the exporting one (the batch span processor):
 * it hands on what is to be exported, holds the rest, and lets go of what nobody kept.
 */
export class OutcomeSpanProcessor implements SpanProcessor {
  /** Held spans by trace id; a Map keeps its keys in insertion order, so the first is the oldest trace. */
  private readonly held = new Map<string, ReadableSpan[]>();
  private heldCount = 0;
  /** Kept trace ids, oldest first (bounded: a kept trace's late spans come within moments). */
  private readonly kept = new Set<string>();
  private announce: ((traceId: string) => void) | undefined;
  private readonly counts = { exported: 0, sampledOut: 0, keptTraces: 0 };

  constructor(
    private readonly next: SpanProcessor,
    private readonly options: OutcomeSamplingOptions,
  ) {}

  onStart(span: Span, parentContext: Context): void {
    this.next.onStart(span, parentContext);
  }

  onEnd(span: ReadableSpan): void {
    const traceId = span.spanContext().traceId;
    if (this.kept.has(traceId) || pickedById(traceId, this.options.happyRatio)) {
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
    const spans = this.held.get(traceId);
    if (spans) {
      this.held.delete(traceId);
      this.heldCount -= spans.length;
      for (const s of spans) this.export(s);
    }
    if (tellOthers) this.announce?.(traceId);
  }

  /** Where a kept trace is announced to the other instances (nats/trace-keeping.ts sets it). */
  announceWith(announce: ((traceId: string) => void) | undefined): void {
    this.announce = announce;
  }

  /** Whether the trace is exported whatever happens: picked by id or kept already. */
  isExported(traceId: string): boolean {
    return this.kept.has(traceId) || pickedById(traceId, this.options.happyRatio);
  }

  stats(): OutcomeSamplingStats {
    return { ...this.counts, held: this.heldCount };
  }

  forceFlush(): Promise<void> {
    return this.next.forceFlush();
  }

  /** Held spans go nowhere: their traces were not kept while the process ran. */
  shutdown(): Promise<void> {
    this.counts.sampledOut += this.heldCount;
    this.held.clear();
    this.heldCount = 0;
    return this.next.shutdown();
  }

  private export(span: ReadableSpan): void {
    this.counts.exported++;
    this.next.onEnd(span);
  }

  private hold(traceId: string, span: ReadableSpan): void {
    const spans = this.held.get(traceId);
    if (spans) spans.push(span);
    else this.held.set(traceId, [span]);
    this.heldCount++;
    while (this.heldCount > this.options.holdSpans) {
      const [oldest, dropped] = this.held.entries().next().value as [string, ReadableSpan[]];
      this.held.delete(oldest);
      this.heldCount -= dropped.length;
      this.counts.sampledOut += dropped.length;
    }
  }
}

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
