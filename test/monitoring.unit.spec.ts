// The monitoring files, checked without Docker: promtool validates the Prometheus config, and the
// Grafana dashboard may only query metrics (and labels) the services' registry really exports.
import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { createMetrics } from "../host/metrics.ts";
import { promtool } from "./support/prometheus.ts";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const PROMETHEUS_CONFIG = join(root, "monitoring/prometheus.yml");
const DASHBOARD = join(root, "monitoring/grafana/dashboards/orderstream.json");

/**
 * The NATS panel reads prometheus-nats-exporter, which no test here runs: its names are listed, by
 * hand, from the exporter's varz mapping (`gnatsd_varz_<field>`).
 */
const NATS_EXPORTER_METRICS = new Set(["gnatsd_varz_in_msgs", "gnatsd_varz_out_msgs"]);
/** Labels Prometheus adds to every scraped series. */
const TARGET_LABELS = ["job", "instance"];

const PROMQL_KEYWORDS = new Set(["by", "without", "on", "ignoring", "group_left", "group_right", "offset", "bool", "and", "or", "unless"]);

interface MetricRef {
  name: string;
  /** Label names used in the selector's matchers. */
  labels: string[];
}

/** Metric selectors of a PromQL expression: names not followed by `(` once strings, ranges and grouping are set aside. */
function metricRefs(expr: string): { metrics: MetricRef[]; groupingLabels: string[] } {
  const groupingLabels: string[] = [];
  const noStrings = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""');
  const withoutGrouping = noStrings.replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)/g, (_, labels: string) => {
    groupingLabels.push(...labels.split(",").map((l) => l.trim()).filter(Boolean));
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

/** The VictoriaLogs datasource's type: its `expr`s are LogsQL, not PromQL. */
const LOGS_DATASOURCE = "victoriametrics-logs-datasource";

/** Every PromQL `expr` in the dashboard, rows' nested panels included (LogsQL targets left out). */
function dashboardExpressions(dashboard: unknown): string[] {
  const out: string[] = [];
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) node.forEach(walk);
    else if (node && typeof node === "object") {
      if ((node as { datasource?: { type?: string } }).datasource?.type === LOGS_DATASOURCE) return;
      for (const [key, value] of Object.entries(node)) {
        if (key === "expr" && typeof value === "string") out.push(value);
        else walk(value);
      }
    }
  };
  walk(dashboard);
  return out;
}

/** Series names a service exposes (histograms as _bucket/_sum/_count) with their label names. */
function exportedSeries(): Map<string, Set<string>> {
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

/** Problems of the dashboard's queries against what is exported; empty when it is consistent. */
function dashboardProblems(expressions: string[], series: Map<string, Set<string>>): string[] {
  const problems: string[] = [];
  const allLabels = new Set([...series.values()].flatMap((s) => [...s]));
  for (const expr of expressions) {
    const { metrics, groupingLabels } = metricRefs(expr);
    if (metrics.length === 0) problems.push(`no metric in: ${expr}`);
    for (const { name, labels } of metrics) {
      if (NATS_EXPORTER_METRICS.has(name)) continue;
      const known = series.get(name);
      if (!known) {
        problems.push(`${name} is not exported (in: ${expr})`);
        continue;
      }
      for (const l of labels) if (!known.has(l)) problems.push(`${name} has no label ${l} (in: ${expr})`);
    }
    const natsOnly = metrics.every((m) => NATS_EXPORTER_METRICS.has(m.name));
    for (const l of groupingLabels) if (!natsOnly && !allLabels.has(l)) problems.push(`no metric has label ${l} (in: ${expr})`);
  }
  return problems;
}

describe("monitoring/prometheus.yml", () => {
  it("passes `promtool check config`", () => {
    const run = promtool(["check", "config", PROMETHEUS_CONFIG]);
    expect(run.output).toContain("SUCCESS");
    expect(run.status, run.output).toBe(0);
  });

  it("fails `promtool check config` on a broken config (the check can fail)", () => {
    const broken = "scrape_configs:\n  - job_name: order\n    dns_sd_configs:\n      - names: [order]\n        type: NOPE\n";
    const run = promtool(["check", "config", "/dev/stdin"], broken);
    expect(run.status, run.output).not.toBe(0);
  });
});

describe("the Grafana dashboard", () => {
  let dashboard: { panels: { title: string; type: string }[] };
  let series: Map<string, Set<string>>;

  beforeAll(() => {
    dashboard = JSON.parse(readFileSync(DASHBOARD, "utf8"));
    series = exportedSeries();
  });

  it("queries only metrics and labels the services export", () => {
    const expressions = dashboardExpressions(dashboard);
    expect(expressions.length).toBeGreaterThan(10);
    expect(dashboardProblems(expressions, series)).toEqual([]);
  });

  it("has the panels operators look for", () => {
    const titles = dashboard.panels.map((p) => p.title.toLowerCase()).join("\n");
    for (const want of ["orders per second", "end-to-end latency", "pending", "ack pending", "dead letters", "http errors", "retries"]) {
      expect(titles).toContain(want);
    }
    const latency = dashboardExpressions(dashboard).filter((e) => e.includes("orderstream_order_e2e_latency_seconds_bucket"));
    expect(latency.map((e) => /histogram_quantile\((0\.\d+)/.exec(e)?.[1])).toEqual(["0.5", "0.9", "0.99"]);
  });

  it("has a logs panel for one order (LogsQL on the VictoriaLogs datasource) beside the links to its trace, and the log shipping rates", () => {
    type Panel = { id: number; type: string; title: string; gridPos: { x: number; y: number; w: number; h: number }; datasource?: { type: string }; targets?: { expr: string }[]; options?: { content?: string } };
    const panels = dashboard.panels as Panel[];
    const logs = panels.find((p) => p.type === "logs")!;
    expect(logs.datasource?.type).toBe(LOGS_DATASOURCE);
    expect(logs.targets?.map((t) => t.expr)).toEqual(['orderId:="$orderId" | sort by (_time)']);
    const links = panels.find((p) => p.type === "text" && p.options?.content?.includes("/orders/${orderId}/view"))!;
    expect(links.options!.content).toContain("localhost:16686/search");
    // Side by side: same row, adjacent.
    expect(links.gridPos.y).toBe(logs.gridPos.y);
    expect(links.gridPos.x + links.gridPos.w).toBe(logs.gridPos.x);
    const variables = (dashboard as unknown as { templating: { list: { name: string; type: string }[] } }).templating.list;
    expect(variables).toContainEqual(expect.objectContaining({ name: "orderId", type: "textbox" }));
    const shipping = dashboardExpressions(dashboard).filter((e) => e.includes("orderstream_log_lines_"));
    expect(shipping.length).toBe(2);
  });

  it("exports the process memory and event-loop lag the dashboard shows", () => {
    expect(series.has("process_resident_memory_bytes")).toBe(true);
    expect(series.has("nodejs_eventloop_lag_p99_seconds")).toBe(true);
    expect(series.has("nodejs_heap_size_used_bytes")).toBe(true);
  });

  describe("the checks can fail", () => {
    it("spots an unknown metric, a wrong label and an unknown grouping label", () => {
      const problems = dashboardProblems(
        [
          'sum(rate(orderstream_orders_total{result="new"}[5m]))',
          'rate(orderstream_events_published_total{order_id="x"}[1m])',
          "sum by (consumer_group) (orderstream_consumer_pending_messages)",
          "histogram_quantile(0.99, sum by (le) (rate(orderstream_order_e2e_latency_seconds[5m])))",
        ],
        series,
      ).join("\n");
      expect(problems).toContain("orderstream_orders_total is not exported");
      expect(problems).toContain("orderstream_events_published_total has no label order_id");
      expect(problems).toContain("no metric has label consumer_group");
      // A histogram is queried through its _bucket series, not its bare name.
      expect(problems).toContain("orderstream_order_e2e_latency_seconds is not exported");
    });

    it("reads selectors, not functions, keywords, strings or ranges", () => {
      expect(
        metricRefs('histogram_quantile(0.9, sum by (le, service) (rate(a_bucket{x=~"rate(b)",y!="1"}[$__rate_interval]))) / on (service) c').metrics,
      ).toEqual([
        { name: "a_bucket", labels: ["x", "y"] },
        { name: "c", labels: [] },
      ]);
    });
  });
});
