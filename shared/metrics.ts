/**
 * Prometheus metrics of a service (prom-client: the de-facto Prometheus client for Node, text
 * format with HELP/TYPE, default process metrics including event-loop lag; works under Deno's Node
 * compatibility). One registry per service process.
 */
import client from "prom-client";

export interface ServiceMetrics {
  registry: client.Registry;
  httpRequests: client.Counter<"method" | "route" | "status">;
  httpDuration: client.Histogram<"method" | "route" | "status">;
  eventsPublished: client.Counter<"event_type" | "result">;
  eventsHandled: client.Counter<"event_type" | "outcome">;
  handlerDuration: client.Histogram<"event_type">;
}

export function createMetrics(service: string): ServiceMetrics {
  const registry = new client.Registry();
  registry.setDefaultLabels({ service });
  client.collectDefaultMetrics({ register: registry, prefix: "orderstream_" });
  return {
    registry,
    httpRequests: new client.Counter({
      name: "orderstream_http_requests_total",
      help: "HTTP requests answered, by route and status.",
      labelNames: ["method", "route", "status"],
      registers: [registry],
    }),
    httpDuration: new client.Histogram({
      name: "orderstream_http_request_duration_seconds",
      help: "HTTP request duration, by route and status.",
      labelNames: ["method", "route", "status"],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    eventsPublished: new client.Counter({
      name: "orderstream_events_published_total",
      help: "Order events published, by type and result (new or duplicate).",
      labelNames: ["event_type", "result"],
      registers: [registry],
    }),
    eventsHandled: new client.Counter({
      name: "orderstream_events_handled_total",
      help: "Order events handled, by type and outcome (ok, retried, dead_lettered, skipped).",
      labelNames: ["event_type", "outcome"],
      registers: [registry],
    }),
    handlerDuration: new client.Histogram({
      name: "orderstream_handler_duration_seconds",
      help: "Time to handle one order event, effects included.",
      labelNames: ["event_type"],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers: [registry],
    }),
  };
}
