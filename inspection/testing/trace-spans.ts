/**
 * Spans for specs of what draws a trace (inspection/span-tree.ts, inspection/timeline-page.ts,
 * cli/waterfall.ts): one builder, so a new field of TraceSpan is given a default in one place.
 */
import type { TraceSpan } from "../trace-span.ts";

/**
 * An ok, internal span of the order service named after its id, starting at 0 and lasting 0,
 * unless `fields` say otherwise.
 *
 * @example aSpan("b", "a", { startTimeUs: 2_000, durationUs: 1_000, kind: "producer" })
 */
export function aSpan(spanId: string, parentSpanId: string | null, fields: Partial<TraceSpan> = {}): TraceSpan {
  return {
    spanId,
    parentSpanId,
    service: "order-service",
    operation: spanId,
    kind: "internal",
    startTimeUs: 0,
    durationUs: 0,
    status: "ok",
    attributes: {},
    ...fields,
  };
}
