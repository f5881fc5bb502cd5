/**
 * `node --import tsx bench/log-shipping.ts [--lines N] [--rounds R]` — what shipping one log line to
 * VictoriaLogs costs the service process, by way of the two routes VictoriaLogs documents for an
 * OpenTelemetry/pino service:
 *
 *   stdout      pino to a file descriptor only: the baseline, what every service does anyway
 *   jsonline    the same, plus shared/log-shipper.ts (the line as pino wrote it, batched to
 *               /insert/jsonline) over node:http, as the Node services send it (host/runtime/node.ts)
 *   fetch       the same over global fetch (undici), as on Deno
 *   otlp        the same, plus each line handed to the OpenTelemetry logs SDK (a LogRecord with the
 *               fields as attributes, BatchLogRecordProcessor, OTLP/protobuf exporter — VictoriaLogs'
 *               OTLP endpoint takes protobuf only) to /insert/opentelemetry/v1/logs: what a pino →
 *               OpenTelemetry bridge does in-process
 *
 * N lines shaped like the services' "handled <TYPE>" line, at the rate pino takes them; CPU time of
 * this process (user + system) per line, minus the baseline's, and VictoriaLogs' own CPU per line.
 * A real VictoriaLogs (free loopback port, temp dir) receives both and is asked how many arrived.
 */
import { mkdtempSync, openSync, closeSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { LoggerProvider, BatchLogRecordProcessor } from "@opentelemetry/sdk-logs";
import { OTLPLogExporter } from "@opentelemetry/exporter-logs-otlp-proto";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { createLogger } from "../shared/logger.ts";
import { createLogShipper, fetchPost } from "../shared/log-shipper.ts";
import { nodeHttpPost } from "../host/runtime/node.ts";
import { findVictoriaLogs, startVictoriaLogs, VICTORIA_LOGS_INSTALL_HINT } from "../scripts/observability.ts";
import { procCpuSeconds } from "./system.ts";

const argv = process.argv.slice(2);
const LINES = Number(argv[argv.indexOf("--lines") + 1]) || 100_000;
const ROUNDS = Number(argv[argv.indexOf("--rounds") + 1]) || 3;

type Variant = "stdout" | "jsonline" | "fetch" | "otlp";
const VARIANTS: Variant[] = ["stdout", "jsonline", "fetch", "otlp"];

const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

/** Logs LINES lines through `log`, yielding to the event loop every 100 lines as a busy service does. */
async function emit(log: ReturnType<typeof createLogger>, run: string): Promise<void> {
  for (let i = 0; i < LINES; i++) {
    log.info(
      {
        orderId: `${run}-${String(i).padStart(8, "0")}-4b1c-9c55-0a2f3c6d7e8f`,
        eventType: "PAYMENT_COMPLETED",
        seq: i + 1,
        consumer: "shipping-p07",
        attempt: 1,
        durationMs: 0.42,
        trace_id: "4bf92f3577b34da6a3ce929d0e0e4736",
        span_id: "00f067aa0ba902b7",
      },
      "handled PAYMENT_COMPLETED",
    );
    if (i % 100 === 99) await new Promise((r) => setImmediate(r));
  }
}

async function countIn(url: string, run: string): Promise<number> {
  const res = await fetch(`${url}/select/logsql/query`, {
    method: "POST",
    body: new URLSearchParams({ query: `run:=${JSON.stringify(run)} | stats count() as n` }),
  });
  const text = (await res.text()).trim();
  return text ? Number((JSON.parse(text) as { n: string }).n) : 0;
}

async function main(): Promise<void> {
  const binary = findVictoriaLogs();
  if (!binary) throw new Error(VICTORIA_LOGS_INSTALL_HINT);
  const dir = mkdtempSync(join(tmpdir(), "orderstream-log-shipping-"));
  const vlogs = await startVictoriaLogs({ binary, dataDir: join(dir, "data") });
  const devNull = openSync("/dev/null", "w");
  const results = Object.fromEntries(VARIANTS.map((v) => [v, [] as number[]])) as Record<Variant, number[]>;
  const vlogsCpu = Object.fromEntries(VARIANTS.map((v) => [v, [] as number[]])) as Record<Variant, number[]>;
  try {
    for (let round = 1; round <= ROUNDS; round++) {
      for (const variant of VARIANTS) {
        const run = `${variant}-${round}`;
        const out = pino.destination({ dest: devNull, sync: false });
        let close: () => Promise<void> = async () => {};
        let log: ReturnType<typeof createLogger>;
        if (variant === "stdout") {
          log = createLogger("shipping-service", "info", out).child({ run });
        } else if (variant === "jsonline" || variant === "fetch") {
          const shipper = createLogShipper({
            url: vlogs.url,
            extraFields: { instance: "bench" },
            maxBufferedLines: LINES,
            maxBufferedChars: 1024 * LINES,
            post: variant === "fetch" ? fetchPost() : nodeHttpPost(),
          });
          log = createLogger("shipping-service", "info", out, shipper.write).child({ run });
          close = () => shipper.close(30_000);
        } else {
          const provider = new LoggerProvider({
            resource: resourceFromAttributes({ "service.name": "shipping-service", "service.instance.id": "bench" }),
            processors: [
              new BatchLogRecordProcessor({
                exporter: new OTLPLogExporter({
                  url: `${vlogs.url}/insert/opentelemetry/v1/logs`,
                  headers: { "VL-Stream-Fields": "service.name,service.instance.id" },
                }),
                maxQueueSize: LINES,
                maxExportBatchSize: 1_000,
                scheduledDelayMillis: 1_000,
              }),
            ],
          });
          const otel = provider.getLogger("orderstream");
          // What an in-process pino → OpenTelemetry bridge does with each line pino writes.
          const bridge = {
            write(line: string) {
              out.write(line);
              const { msg, level, time, ...attributes } = JSON.parse(line) as Record<string, string | number>;
              otel.emit({ body: msg, severityText: String(level), timestamp: Date.parse(String(time)), attributes });
            },
          };
          log = createLogger("shipping-service", "info", bridge).child({ run });
          close = async () => {
            await provider.forceFlush();
            await provider.shutdown();
          };
        }
        const vBefore = procCpuSeconds(vlogs.pid);
        const before = cpuMs();
        await emit(log, run);
        await close();
        await new Promise<void>((r) => out.flush(() => r()));
        const used = cpuMs() - before;
        // Let VictoriaLogs make them searchable, then count what arrived.
        let arrived = 0;
        for (let i = 0; i < 50 && variant !== "stdout"; i++) {
          await new Promise((r) => setTimeout(r, 200));
          arrived = await countIn(vlogs.url, run);
          if (arrived >= LINES) break;
        }
        const vUsed = (procCpuSeconds(vlogs.pid) - vBefore) * 1000;
        results[variant].push((used * 1000) / LINES);
        vlogsCpu[variant].push((vUsed * 1000) / LINES);
        console.log(
          `round ${round} ${variant.padEnd(8)} ${((used * 1000) / LINES).toFixed(2).padStart(6)} µs CPU/line in the service process` +
            (variant === "stdout"
              ? ""
              : `; VictoriaLogs ${((vUsed * 1000) / LINES).toFixed(2)} µs/line; ${arrived}/${LINES} lines arrived`),
        );
      }
    }
  } finally {
    closeSync(devNull);
    await vlogs.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const base = median(results.stdout);
  console.log(`\nmedian of ${ROUNDS} rounds, ${LINES.toLocaleString("en-US")} lines each (µs of CPU per line):`);
  console.log(`  stdout only             ${base.toFixed(2)}`);
  for (const v of VARIANTS.slice(1)) {
    console.log(
      `  + ${v.padEnd(20)} ${median(results[v]).toFixed(2)} (shipping: +${(median(results[v]) - base).toFixed(2)}; VictoriaLogs ingesting: ${median(vlogsCpu[v]).toFixed(2)})`,
    );
  }
}

try {
  await main();
  process.exit(0);
} catch (err) {
  console.error(`log-shipping bench failed: ${(err as Error).stack ?? err}`);
  process.exit(1);
}
