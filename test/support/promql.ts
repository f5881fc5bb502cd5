// What the monitoring files (the Grafana dashboard, monitoring/rules.yml) may query, and a reader of
// the metric selectors in a PromQL expression, so a test can hold each query against what is exported.
import { createMetrics } from "../../host/metrics.ts";

/** Labels Prometheus adds to every scraped series. */
export const TARGET_LABELS = ["job", "instance"];

const EXPORTER_SERVER_LABELS = ["server_id", "server_name", "cluster", "domain", "meta_leader", "is_meta_leader"];
const EXPORTER_STREAM_LABELS = [...EXPORTER_SERVER_LABELS, "account", "account_id", "stream_name", "stream_leader", "is_stream_leader"];
const EXPORTER_CONSUMER_LABELS = [
  ...EXPORTER_STREAM_LABELS,
  "consumer_name",
  "consumer_leader",
  "is_consumer_leader",
  "consumer_desc",
  "consumer_created",
];

/**
 * The series prometheus-nats-exporter (compose.yaml: `-varz -jsz=all`) exposes that the monitoring
 * files use, with their labels; no test here runs the exporter, so they are listed by hand from its
 * collectors: varz as `gnatsd_varz_<field>` (labelled server_id), JetStream as `jetstream_stream_*`
 * and `jetstream_consumer_*` (collector/jsz.go of nats-io/prometheus-nats-exporter).
 */
export const NATS_EXPORTER_SERIES: ReadonlyMap<string, ReadonlySet<string>> = new Map([
  ...["gnatsd_varz_in_msgs", "gnatsd_varz_out_msgs", "gnatsd_varz_in_bytes", "gnatsd_varz_out_bytes", "gnatsd_varz_connections"].map(
    (name) => [name, new Set(["server_id", ...TARGET_LABELS])] as const,
  ),
  ...[
    "jetstream_stream_total_messages",
    "jetstream_stream_total_bytes",
    "jetstream_stream_first_seq",
    "jetstream_stream_last_seq",
    "jetstream_stream_consumer_count",
  ].map((name) => [name, new Set([...EXPORTER_STREAM_LABELS, ...TARGET_LABELS])] as const),
  ...[
    "jetstream_consumer_num_pending",
    "jetstream_consumer_num_ack_pending",
    "jetstream_consumer_num_redelivered",
    "jetstream_consumer_num_waiting",
    "jetstream_consumer_delivered_stream_seq",
    "jetstream_consumer_ack_floor_stream_seq",
  ].map((name) => [name, new Set([...EXPORTER_CONSUMER_LABELS, ...TARGET_LABELS])] as const),
]);

/** Series names a service exposes (histograms as _bucket/_sum/_count) with their label names. */
export function serviceSeries(): Map<string, Set<string>> {
  const metrics = createMetrics("order");
  const series = new Map<string, Set<string>>();
  for (const metric of metrics.registry.getMetricsAsArray()) {
    // prom-client's typings lack the instance fields; at runtime every metric has them.
    const { name, type, labelNames = [] } = metric as unknown as { name: string; type: string; labelNames?: string[] };
    const labels = new Set([...labelNames, "service", ...TARGET_LABELS]);
    if (type === "histogram") {
      series.set(`${name}_bucket`, new Set([...labels, "le"]));
      series.set(`${name}_sum`, labels);
      series.set(`${name}_count`, labels);
    } else {
      series.set(name, labels);
    }
  }
  return series;
}

const PROMQL_KEYWORDS = new Set(["by", "without", "on", "ignoring", "group_left", "group_right", "offset", "bool", "and", "or", "unless"]);

export interface MetricRef {
  name: string;
  /** Label names used in the selector's matchers. */
  labels: string[];
}

/** Metric selectors of a PromQL expression: names not followed by `(` once strings, ranges and grouping are set aside. */
export function metricRefs(expr: string): { metrics: MetricRef[]; groupingLabels: string[] } {
  const groupingLabels: string[] = [];
  const noStrings = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""');
  const withoutGrouping = noStrings.replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)/g, (_, labels: string) => {
    groupingLabels.push(
      ...labels
        .split(",")
        .map((l) => l.trim())
        .filter(Boolean),
    );
    return " ";
  });
  const withoutRanges = withoutGrouping.replace(/\[[^\]]*\]/g, "");
  const metrics: MetricRef[] = [];
  const selector = /([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\{[^}]*\})?/g;
  for (const m of withoutRanges.matchAll(selector)) {
    const [whole, name, matchers] = m;
    const rest = withoutRanges.slice(m.index + whole.length);
    if (!matchers && /^\s*\(/.test(rest)) continue; // a function or aggregation
    if (PROMQL_KEYWORDS.has(name!)) continue;
    if (/[\d.]/.test(withoutRanges[m.index - 1] ?? "")) continue; // the exponent of 1e3
    const labels = [...(matchers ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)/g)].map((l) => l[1]!);
    metrics.push({ name: name!, labels });
  }
  return { metrics, groupingLabels };
}

/**
 * Problems of queries against the series that exist; empty when every selector names a known series
 * with labels it has, and every grouping label is one of the selected series'.
 */
export function queryProblems(expressions: string[], series: ReadonlyMap<string, ReadonlySet<string>>): string[] {
  const problems: string[] = [];
  for (const expr of expressions) {
    const { metrics, groupingLabels } = metricRefs(expr);
    if (metrics.length === 0) problems.push(`no metric in: ${expr}`);
    const selected = new Set<string>();
    for (const { name, labels } of metrics) {
      const known = series.get(name);
      if (!known) {
        problems.push(`${name} is not exported (in: ${expr})`);
        continue;
      }
      for (const l of known) selected.add(l);
      for (const l of labels) if (!known.has(l)) problems.push(`${name} has no label ${l} (in: ${expr})`);
    }
    for (const l of groupingLabels) if (!selected.has(l)) problems.push(`no metric has label ${l} (in: ${expr})`);
  }
  return problems;
}
