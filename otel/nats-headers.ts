/**
 * W3C trace context in NATS message headers, through the OpenTelemetry propagation API: whatever
 * propagator the SDK registered (W3C tracecontext + baggage by default) writes and reads them.
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

/** Writes the context's trace headers (`traceparent`, `tracestate`) into NATS headers. */
export function injectTraceHeaders(headers: MsgHdrs, ctx: Context = context.active()): void {
  propagation.inject(ctx, headers, setter);
}

/** The producer's context from a message's headers (the active context when there are none). */
export function extractTraceContext(headers: MsgHdrs | undefined, ctx: Context = context.active()): Context {
  return propagation.extract(ctx, headers, getter);
}
