/**
 * The outcome sampling policy across instances (otel/outcome-sampling.ts): a trace one instance
 * keeps is announced on TRACE_KEEP_SUBJECT (core NATS, the trace id as the body), and every
 * instance of every service, this one included, sends on the spans of it that it holds. Core NATS
 * because the news is worth something only for the moments the spans are held: an instance that
 * is away then has nothing held to send; its later spans of the trace wait for the next keep or go.
 */
import { isValidTraceId } from "@opentelemetry/api";
import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import { outcomeSampling } from "../otel/outcome-sampling.ts";
import { TRACE_KEEP_SUBJECT } from "./subjects.ts";

const encoder = new TextEncoder();

/** Listens for kept traces and announces this instance's; a no-op handle when the policy is off. */
export function connectTraceKeeping(nc: NatsConnection): { stop(): Promise<void> } {
  const policy = outcomeSampling();
  if (!policy) return { stop: async () => {} };
  const sub: Subscription = nc.subscribe(TRACE_KEEP_SUBJECT, {
    callback: (err, msg) => {
      if (err) return;
      const traceId = msg.string();
      // Anything else on the subject is not a trace id of ours: ignored, it keeps nothing.
      if (isValidTraceId(traceId)) policy.keep(traceId, false);
    },
  });
  policy.announceWith((traceId) => {
    if (!nc.isClosed()) nc.publish(TRACE_KEEP_SUBJECT, encoder.encode(traceId));
  });
  return {
    async stop() {
      policy.announceWith(undefined);
      sub.unsubscribe();
    },
  };
}
