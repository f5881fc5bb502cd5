// The `logs` command's text: VictoriaLogs' recorded answer for one order, rendered line by line.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { fetchOrderLogs, type LogLine } from "../inspection/log-query.ts";
import { displayTime, renderLogLines } from "./log-table.ts";

const RECORDED = readFileSync(new URL("../test/fixtures/victoria-logs/order_logs_query.jsonl", import.meta.url), "utf8");

async function recordedLines(): Promise<LogLine[]> {
  const fetchImpl = (async () => new Response(RECORDED, { status: 200 })) as unknown as typeof fetch;
  return (await fetchOrderLogs({ baseUrl: "http://v:9428", orderId: "caeade7c-6b08-4be3-b5db-37874639fd84", fetch: fetchImpl })).lines!;
}

describe("renderLogLines", () => {
  it("prints one line per log line: time with milliseconds, service, level, message, then the event and trace fields", async () => {
    const text = renderLogLines(await recordedLines());
    const rows = text.split("\n");
    expect(rows).toHaveLength(7);
    expect(rows[0]).toMatch(
      /^2026-12-04T07:34:10\.563Z {2}order-service {9}info {3}order accepted {2}eventType=ORDER_CREATED seq=1 trace_id=f2e028ff856f857a04299ae7d34deea4 span_id=4797bb3ccabff017 duplicate=false userId=capture$/,
    );
    // VictoriaLogs' `…10.58Z` is shown as `…10.580Z`: the columns line up.
    expect(rows[2]!.startsWith("2026-12-04T07:34:10.580Z  shipping-service ")).toBe(true);
    expect(new Set(rows.map((r) => r.indexOf(" info ")))).toHaveProperty("size", 1);
    expect(rows[1]).toContain(
      "handled ORDER_CREATED  eventType=ORDER_CREATED seq=1 consumer=payment-p06 attempt=1 durationMs=1.89 trace_id=",
    );
    expect(text).not.toContain("instance=");
    expect(text).not.toContain("\u001b[");
  });

  it("colours only when asked, and never lets control characters through", () => {
    const line: LogLine = {
      time: "2026-12-04T10:00:00Z",
      service: "evil\u001b[2J",
      level: "error",
      msg: "boom\u0007",
      fields: { "k\n": "v\r" },
    };
    const plain = renderLogLines([line]);
    expect(plain).toBe("2026-12-04T10:00:00.000Z  evil?[2J  error  boom?  k?=v?");
    expect(renderLogLines([line], { color: true })).toContain("\u001b[31merror\u001b[0m");
    expect(renderLogLines([])).toBe("(no log lines)");
    expect(displayTime("not a time")).toBe("not a time");
  });
});
