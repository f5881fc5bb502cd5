// The monitoring files, checked without Docker: promtool validates the Prometheus config, and the
// Grafana dashboard may only query metrics (and labels) the services' registry really exports.
import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { promtool } from "./support/prometheus.ts";
import { metricRefs, NATS_EXPORTER_SERIES, queryProblems, serviceSeries } from "./support/promql.ts";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const PROMETHEUS_CONFIG = join(root, "monitoring/prometheus.yml");
const DASHBOARD = join(root, "monitoring/grafana/dashboards/orderstream.json");

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

/** What the dashboard may query: the services' series and the NATS exporter's. */
function exportedSeries(): Map<string, ReadonlySet<string>> {
  return new Map<string, ReadonlySet<string>>([...serviceSeries(), ...NATS_EXPORTER_SERIES]);
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
  let series: Map<string, ReadonlySet<string>>;

  beforeAll(() => {
    dashboard = JSON.parse(readFileSync(DASHBOARD, "utf8"));
    series = exportedSeries();
  });

  it("queries only metrics and labels the services export", () => {
    const expressions = dashboardExpressions(dashboard);
    expect(expressions.length).toBeGreaterThan(10);
    expect(queryProblems(expressions, series)).toEqual([]);
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
    type Panel = {
      id: number;
      type: string;
      title: string;
      gridPos: { x: number; y: number; w: number; h: number };
      datasource?: { type: string };
      targets?: { expr: string }[];
      options?: { content?: string };
    };
    const panels = dashboard.panels as Panel[];
    const logs = panels.find((p) => p.type === "logs")!;
    expect(logs.datasource?.type).toBe(LOGS_DATASOURCE);
    expect(logs.targets?.map((t) => t.expr)).toEqual(['orderId:="$orderId" | sort by (_time)']);
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a Grafana variable, not a template
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

  it("has JetStream panels from the NATS exporter: stream messages and bytes, consumer pending, ack pending, redelivered", () => {
    type Panel = { title: string; targets?: { expr: string }[] };
    const exprs = (title: string) =>
      (dashboard.panels as Panel[])
        .filter((p) => p.title.toLowerCase().includes(title))
        .flatMap((p) => (p.targets ?? []).map((t) => t.expr));
    const uses = (title: string, metric: string) =>
      expect(
        exprs(title).some((e) => metricRefs(e).metrics.some((m) => m.name === metric)),
        `${title}: ${metric}`,
      ).toBe(true);
    uses("stream messages", "jetstream_stream_total_messages");
    uses("stream bytes", "jetstream_stream_total_bytes");
    uses("exporter: consumer pending", "jetstream_consumer_num_pending");
    uses("exporter: consumer ack pending", "jetstream_consumer_num_ack_pending");
    uses("exporter: consumer redelivered", "jetstream_consumer_num_redelivered");
  });

  it("lays its panels out on the 24-column grid without overlap, each with its own id", () => {
    type Panel = { id: number; title: string; gridPos: { x: number; y: number; w: number; h: number } };
    const panels = dashboard.panels as unknown as Panel[];
    expect(new Set(panels.map((p) => p.id)).size).toBe(panels.length);
    const taken = new Map<string, string>();
    const overlaps: string[] = [];
    for (const { title, gridPos: g } of panels) {
      expect(g.x + g.w, title).toBeLessThanOrEqual(24);
      for (let x = g.x; x < g.x + g.w; x++) {
        for (let y = g.y; y < g.y + g.h; y++) {
          const other = taken.get(`${x},${y}`);
          if (other) overlaps.push(`${title} overlaps ${other}`);
          taken.set(`${x},${y}`, title);
        }
      }
    }
    expect([...new Set(overlaps)]).toEqual([]);
  });

  describe("the $service and $instance variables", () => {
    type Variable = {
      name: string;
      type: string;
      query?: { query: string } | string;
      multi?: boolean;
      includeAll?: boolean;
      allValue?: string;
    };
    type Panel = { title: string; type: string; datasource?: { type?: string }; targets?: { expr: string }[] };
    /** Panels about the whole system (the order flow, NATS as a whole), which no service filter applies to. */
    const WHOLE_SYSTEM = [
      "Orders per second",
      "End-to-end latency (ORDER_CREATED → SHIPPING_READY)",
      "NATS messages per second",
      "Stream messages",
      "Stream bytes",
    ];
    const variables = () => (dashboard as unknown as { templating: { list: Variable[] } }).templating.list;
    const promPanels = () => (dashboard.panels as Panel[]).filter((p) => p.targets && p.datasource?.type === "prometheus");

    it("exist, list label values of a metric every instance exports, and allow several or all", () => {
      for (const [name, label] of [
        ["service", "service"],
        ["instance", "instance"],
      ] as const) {
        const v = variables().find((x) => x.name === name);
        expect(v, name).toMatchObject({ type: "query", multi: true, includeAll: true, allValue: ".*" });
        const query = typeof v!.query === "string" ? v!.query : v!.query!.query;
        const m = /^label_values\((.+),\s*([a-z_]+)\)$/.exec(query);
        expect(m, query).not.toBeNull();
        expect(m![2]).toBe(label);
        expect(queryProblems([m![1]!], series)).toEqual([]);
        expect(series.get(metricRefs(m![1]!).metrics[0]!.name)?.has(label)).toBe(true);
      }
      // Instances follow the services chosen.
      expect(JSON.stringify(variables().find((x) => x.name === "instance")!.query)).toContain('service=~\\"$service\\"');
    });

    it("filter every per-service panel by $service, and every per-instance series by $instance", () => {
      const problems: string[] = [];
      for (const panel of promPanels()) {
        if (WHOLE_SYSTEM.includes(panel.title)) continue;
        for (const { expr } of panel.targets!) {
          if (!expr.includes("$service")) problems.push(`${panel.title}: no $service in ${expr}`);
          const perProcess = metricRefs(expr).metrics.some((m) => /^(process|nodejs)_/.test(m.name));
          if (perProcess && !expr.includes('instance=~"$instance"')) problems.push(`${panel.title}: no $instance in ${expr}`);
        }
      }
      expect(problems).toEqual([]);
      const all = promPanels().flatMap((p) => p.targets!.map((t) => t.expr));
      expect(all.filter((e) => e.includes('instance=~"$instance"')).length).toBeGreaterThan(5);
    });
  });

  it("exports the process memory and event-loop lag the dashboard shows", () => {
    expect(series.has("process_resident_memory_bytes")).toBe(true);
    expect(series.has("nodejs_eventloop_lag_p99_seconds")).toBe(true);
    expect(series.has("nodejs_heap_size_used_bytes")).toBe(true);
  });

  describe("the checks can fail", () => {
    it("spots an unknown metric, a wrong label and an unknown grouping label", () => {
      const problems = queryProblems(
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
        metricRefs('histogram_quantile(0.9, sum by (le, service) (rate(a_bucket{x=~"rate(b)",y!="1"}[$__rate_interval]))) / on (service) c')
          .metrics,
      ).toEqual([
        { name: "a_bucket", labels: ["x", "y"] },
        { name: "c", labels: [] },
      ]);
    });
  });
});
