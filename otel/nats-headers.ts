/**
 * W3C trace context in NATS message headers, through the OpenTelemetry propagation API: whatever
 * propagator the SDK registered (W3C tracecontext + baggage by default) writes and reads them.
 *
 * nats.js's `MsgHdrs.get` and `set` copy and filter the key list on every call, and the propagators
 * look up three headers per message (traceparent, tracestate, baggage): reads go straight to the
 * headers' map (`headerValue`), and a publish's headers are written into a plain record first
 * (nats/message-headers.ts `messageHeaders`).
 */
import { context, propagation, type Context, type TextMapGetter, type TextMapSetter } from "@opentelemetry/api";
import { MsgHdrsImpl, type MsgHdrs } from "@nats-io/transport-node";

const setter: TextMapSetter<MsgHdrs> = {
  set: (headers, key, value) => headers.set(key, value),
};

/**
 * A header's first value by its exact name, as `MsgHdrs.get` answers it ("" when absent); for
 * nats.js's own headers (every received message's) read from their map, which copies nothing.
 */
export function headerValue(headers: MsgHdrs | undefined, name: string): string {
  if (headers instanceof MsgHdrsImpl) return headers.headers.get(name)?.[0] ?? "";
  return headers?.get(name) ?? "";
}

const getter: TextMapGetter<MsgHdrs | undefined> = {
  get: (headers, key) => headerValue(headers, key) || undefined,
  keys: (headers) => (headers ? headers.keys() : []),
};

/** Header name → value: a publish's headers before they become MsgHdrs (nats/message-headers.ts). */
export type HeaderRecord = Record<string, string>;

const recordSetter: TextMapSetter<HeaderRecord> = {
  set: (record, key, value) => {
    record[key] = value;
  },
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
