/**
 * What the readiness probe costs the server at idle: the four services running, no orders. The
 * probe's requests are counted by subscribing to their subjects (`$JS.API.STREAM.INFO.ORDERS`,
 * `$JS.API.INFO`; PINGs are protocol, not messages), beside every message the services exchange
 * with the server (its /varz) and nats-server's CPU over the same window.
 *
 *   node --import tsx bench/readiness-idle.ts [--seconds 30]
 */
import { procCpuSeconds, startBenchSystem } from "./system.ts";
import { ORDERS_STREAM } from "../nats/subjects.ts";

const i = process.argv.indexOf("--seconds");
const SECONDS = i > 0 ? Number(process.argv[i + 1]) : 30;

const sys = await startBenchSystem({ label: "readiness-idle" });
try {
  let probes = 0;
  const subs = [`$JS.API.STREAM.INFO.${ORDERS_STREAM}`, "$JS.API.INFO"].map((subject) =>
    sys.nc.subscribe(subject, { callback: () => void probes++ }),
  );
  await sys.nc.flush();
  await new Promise((r) => setTimeout(r, 5_000)); // start-up settles
  probes = 0;
  const before = await sys.natsServiceMessages();
  const cpuBefore = procCpuSeconds(sys.nats.pid);
  await new Promise((r) => setTimeout(r, SECONDS * 1_000));
  const after = await sys.natsServiceMessages();
  const cpu = procCpuSeconds(sys.nats.pid) - cpuBefore;
  for (const s of subs) s.unsubscribe();
  const total = (after.in - before.in + after.out - before.out) / SECONDS;
  const probeRequests = probes / SECONDS;
  console.log(
    `idle, 4 services, ${SECONDS} s: ${total.toFixed(1)} messages/s between the services and nats-server; ` +
      `readiness probe requests ${probeRequests.toFixed(2)}/s (${(probeRequests / 4).toFixed(2)} per service; each with its reply: ` +
      `${((2 * probeRequests * 100) / total).toFixed(1)} % of the messages); nats-server CPU ${((cpu * 100) / SECONDS).toFixed(2)} % of a core`,
  );
} finally {
  await sys.stop();
}
