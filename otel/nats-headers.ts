/**
 * W3C trace context in NATS message headers, through the OpenTelemetry propagation API: whatever
 * propagator the SDK registered (W3C tracecontext + baggage by default) writes and reads them.
 *
 * The event path works on plain records of the headers (nats/message-headers.ts) rather than on
 * nats.js's MsgHdrs: every `MsgHdrs.get` and `set` copies and filters the key list, and the
 * propagators make three look-ups per message (traceparent, tracestate, baggage).
 */
import { context, propagation, type Context, type TextMapGetter, type TextMapSetter } from "@opentelemetry/api";
import type { MsgHdrs } from "@nats-io/transport-node";

const setter: TextMapSetter<MsgHdrs> = {
  set: (headers, key, value) => headers.set(key, value),
};

const getter: TextMapGetter<MsgHdrs | undefined> = {
  get: (headers, key) => {
    const value = headers?.get(key);
    return value ? value : undefined;
  },
  keys: (headers) => (headers ? headers.keys() : []),
};

/** Header name → first value, as nats.js's `MsgHdrs.get` reads it (exact name). */
export type HeaderRecord = Record<string, string>;

const recordSetter: TextMapSetter<HeaderRecord> = {
  set: (record, key, value) => {
    record[key] = value;
  },
};

const recordGetter: TextMapGetter<HeaderRecord | undefined> = {
  // An empty value reads as absent, as with MsgHdrs (whose get answers "" for a missing header).
  get: (record, key) => record?.[key] || undefined,
  keys: (record) => (record ? Object.keys(record) : []),
};

/** Writes the context's trace headers (`traceparent`, `tracestate`) into NATS headers. */
export function injectTraceHeaders(headers: MsgHdrs, ctx: Context = context.active()): void {
  propagation.inject(ctx, headers, setter);
}

/** Writes the context's trace headers into `record` (for nats/message-headers.ts `messageHeaders`); returns it. */
export function injectTraceRecord(record: HeaderRecord, ctx: Context = context.active()): HeaderRecord {
  propagation.inject(ctx, record, recordSetter);
  return record;
}

/** The producer's context from a message's headers (the active context when there are none). */
export function extractTraceContext(headers: MsgHdrs | undefined, ctx: Context = context.active()): Context {
  return propagation.extract(ctx, headers, getter);
}

/** The same from a record of the headers (nats/message-headers.ts `headerRecord`). */
export function extractTraceRecord(record: HeaderRecord | undefined, ctx: Context = context.active()): Context {
  return propagation.extract(ctx, record, recordGetter);
}
