// monitoring/rules.yml, checked without a running Prometheus: promtool validates it and runs its unit
// tests (monitoring/rules.test.yml), every alert carries what an on-call needs, and every series the
// rules read is one the services or the NATS exporter export.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { promtool } from "./support/prometheus.ts";
import { metricRefs, NATS_EXPORTER_SERIES, queryProblems, serviceSeries, TARGET_LABELS } from "./support/promql.ts";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const RULES = join(root, "monitoring/rules.yml");
const RULES_TEST = join(root, "monitoring/rules.test.yml");

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface RulesTest {
  tests: {
    alert_rule_test?: { alertname: string; exp_alerts: unknown[] }[];
    promql_expr_test?: { expr: string }[];
  }[];
}

/**
 * Gauges other parts of the project export (edge sites and their hub; the JetStream store), with
 * the labels every scraped series has: the rules may read them before this registry knows them.
 */
const OTHER_GAUGES = ["orderstream_jetstream_store_used_bytes", "orderstream_jetstream_store_limit_bytes", "orderstream_hub_link_up"];

describe("monitoring/rules.yml", () => {
  let rules: Rule[];
  let alerts: Rule[];
  let tests: RulesTest["tests"];
  let scratch: string;

  beforeAll(() => {
    rules = (parse(readFileSync(RULES, "utf8")) as { groups: { rules: Rule[] }[] }).groups.flatMap((g) => g.rules);
    alerts = rules.filter((r) => r.alert);
    tests = (parse(readFileSync(RULES_TEST, "utf8")) as RulesTest).tests;
    scratch = mkdtempSync(join(tmpdir(), "orderstream-rules-"));
  });
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it("passes `promtool check rules`", () => {
    const run = promtool(["check", "rules", RULES]);
    expect(run.status, run.output).toBe(0);
    expect(run.output).toContain(`SUCCESS: ${rules.length} rules found`);
  });

  it("passes its unit tests: `promtool test rules monitoring/rules.test.yml`", () => {
    const run = promtool(["test", "rules", RULES_TEST]);
    expect(run.status, run.output).toBe(0);
    expect(run.output).toContain("SUCCESS");
  });

  it("has the alerts operators rely on, each with a `for`, a severity, and a summary and description saying what to do", () => {
    expect(alerts.map((a) => a.alert).sort()).toEqual(
      [
        "OrderstreamConsumerPendingGrowing",
        "OrderstreamDeadLetters",
        "OrderstreamHttp5xxRate",
        "OrderstreamJetStreamStoreNearlyFull",
        "OrderstreamJetStreamWritesRefused",
        "OrderstreamLogLinesDropped",
        "OrderstreamServiceDown",
        "OrderstreamServiceNotReady",
        "OrderstreamSiteCutOff",
        "OrderstreamTraceSpansDropped",
      ].sort(),
    );
    for (const a of alerts) {
      expect(a.for, a.alert).toMatch(/^\d+[smh]$/);
      expect(["warning", "critical"], a.alert).toContain(a.labels?.severity);
      expect(a.annotations?.summary, a.alert).toBeTruthy();
      // What to do: every description names a check or an action.
      expect(a.annotations?.description, a.alert).toMatch(/\b(Check|Look|Raise|read|restart|fix)\b/);
    }
    const byName = new Map(alerts.map((a) => [a.alert!, a]));
    expect(byName.get("OrderstreamJetStreamStoreNearlyFull")).toMatchObject({
      expr: "orderstream_jetstream_store_used_bytes / (orderstream_jetstream_store_limit_bytes > 0) > 0.85",
      for: "5m",
    });
    expect(byName.get("OrderstreamSiteCutOff")).toMatchObject({ expr: "orderstream_hub_link_up == 0", for: "1m" });
  });

  it("has every alert unit-tested both firing and silent, and every recording rule evaluated", () => {
    const alertTests = tests.flatMap((t) => t.alert_rule_test ?? []);
    for (const a of alerts) {
      const mine = alertTests.filter((t) => t.alertname === a.alert);
      expect(
        mine.some((t) => t.exp_alerts.length > 0),
        `${a.alert} fires in a test`,
      ).toBe(true);
      expect(
        mine.some((t) => t.exp_alerts.length === 0),
        `${a.alert} stays silent in a test`,
      ).toBe(true);
    }
    const evaluated = new Set(tests.flatMap((t) => t.promql_expr_test ?? []).map((t) => t.expr));
    for (const r of rules.filter((x) => x.record)) expect(evaluated.has(r.record!), r.record).toBe(true);
  });

  it("reads only series the services, the NATS exporter, Prometheus (`up`) or its own recording rules provide", () => {
    const series = new Map<string, ReadonlySet<string>>([...serviceSeries(), ...NATS_EXPORTER_SERIES]);
    series.set("up", new Set(TARGET_LABELS));
    for (const name of OTHER_GAUGES) series.set(name, new Set(TARGET_LABELS));
    for (const r of rules.filter((x) => x.record)) {
      // A recorded series keeps the labels it was aggregated by: level:metric:operations names them.
      series.set(r.record!, new Set(metricRefs(r.expr).groupingLabels.filter((l) => l !== "le")));
    }
    expect(
      queryProblems(
        rules.map((r) => r.expr),
        series,
      ),
    ).toEqual([]);
  });

  describe("the checks can fail", () => {
    it("`promtool check rules` rejects a rule with a broken expression", () => {
      const broken = join(scratch, "broken.yml");
      writeFileSync(broken, "groups:\n  - name: x\n    rules:\n      - alert: X\n        expr: rate(orderstream_http_requests_total[5m]\n");
      const run = promtool(["check", "rules", broken]);
      expect(run.status, run.output).not.toBe(0);
    });

    it("`promtool test rules` fails when an alert does not fire as expected", () => {
      const wrong = join(scratch, "wrong.test.yml");
      writeFileSync(
        wrong,
        [
          "rule_files:",
          `  - ${RULES}`,
          "evaluation_interval: 1m",
          "tests:",
          "  - interval: 1m",
          "    input_series:",
          "      - series: 'orderstream_hub_link_up{instance=\"site-a\"}'",
          "        values: '1x10'",
          "    alert_rule_test:",
          "      - alertname: OrderstreamSiteCutOff",
          "        eval_time: 5m",
          "        exp_alerts:",
          "          - exp_labels: { severity: critical, instance: site-a }",
          "",
        ].join("\n"),
      );
      const run = promtool(["test", "rules", wrong]);
      expect(run.status, run.output).not.toBe(0);
      expect(run.output).toContain("FAILED");
    });
  });
});
