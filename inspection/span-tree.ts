/**
 * The one span tree both waterfalls draw — the timeline page's (inspection/timeline-page.ts) and
 * the terminal's (cli/waterfall.ts): which span sits under which, in what order, how deep, and where
 * it starts on the trace's time axis. Pure; the renderers only turn its rows into markup or text.
 */
import type { TraceSpan } from "./trace-span.ts";

/** One span in drawing order. */
export interface SpanRow {
  span: TraceSpan;
  /** 0 for a root, one more than its parent's below it. */
  depth: number;
  /** Microseconds from the trace's earliest start to this span's start; never negative. */
  offsetUs: number;
}

/** A trace's spans in drawing order, and the time they cover. */
export interface SpanTree {
  rows: SpanRow[];
  /** The earliest start of any span, in µs since the epoch; 0 without spans. */
  startUs: number;
  /** From the earliest start to the latest end of any span, in µs; 0 without spans. */
  durationUs: number;
}

/**
 * Spans depth-first from the roots, each one's children under it, siblings (and roots) by start
 * time. A span whose parent is not among `spans` is a root. Every span comes out exactly once:
 * a repeated span id keeps its children under its earliest copy, and spans caught in a parent
 * cycle, which no root reaches, come last from the earliest of them.
 *
 * Parent and child come from the span ids, never from the clocks: a child whose process clock runs
 * behind its parent's (it appears to start first) still sits under its parent, and the trace
 * starts at its start, so no offset is negative.
 *
 * @example for (const { span, depth, offsetUs } of spanTree(lookup.spans).rows) draw(span, depth, offsetUs)
 */
export function spanTree(spans: readonly TraceSpan[]): SpanTree {
  if (spans.length === 0) return { rows: [], startUs: 0, durationUs: 0 };
  // A stable sort: spans that start together keep the order they came in.
  const byStart = [...spans].sort((a, b) => a.startTimeUs - b.startTimeUs);
  const startUs = byStart[0]!.startTimeUs;
  // A loop, not Math.max(...spans): spreading a very large trace would exceed the argument limit.
  let endUs = startUs;
  for (const span of byStart) endUs = Math.max(endUs, span.startTimeUs + span.durationUs);

  const earliestWithId = new Map<string, TraceSpan>();
  for (const span of byStart) if (!earliestWithId.has(span.spanId)) earliestWithId.set(span.spanId, span);
  const children = new Map<TraceSpan, TraceSpan[]>();
  const roots: TraceSpan[] = [];
  for (const span of byStart) {
    const parent = span.parentSpanId === null ? undefined : earliestWithId.get(span.parentSpanId);
    if (parent === undefined || parent === span) roots.push(span);
    else children.set(parent, [...(children.get(parent) ?? []), span]);
  }

  const rows: SpanRow[] = [];
  const placed = new Set<TraceSpan>();
  // Depth-first with a stack of its own, so a deeply nested trace cannot overflow the call stack;
  // each span enters the rows once, so this ends after at most spans.length rows.
  const place = (top: TraceSpan): void => {
    const stack: { span: TraceSpan; depth: number }[] = [{ span: top, depth: 0 }];
    while (stack.length > 0) {
      const { span, depth } = stack.pop()!;
      if (placed.has(span)) continue;
      placed.add(span);
      rows.push({ span, depth, offsetUs: span.startTimeUs - startUs });
      const below = children.get(span) ?? [];
      for (let i = below.length - 1; i >= 0; i--) stack.push({ span: below[i]!, depth: depth + 1 });
    }
  };
  for (const root of roots) place(root);
  for (const span of byStart) place(span);
  return { rows, startUs, durationUs: endUs - startUs };
}
