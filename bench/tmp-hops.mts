import { DeliverPolicy } from "@nats-io/jetstream";
import { startBenchSystem } from "./system.ts";
import { httpLoad, percentile, waitDrained } from "./load.ts";
const variants = process.argv.slice(2);
for (const v of variants.length ? variants : [""]) {
  const nodeArgs = v === "" ? undefined : v === "none" ? [] : v.split(" ");
  const sys = await startBenchSystem({ label: "hops", nodeArgs });
  await httpLoad({ url: `${sys.orderUrl}/orders`, rate: 0, durationS: 0, amount: 400, connections: 64 });
  await waitDrained(sys.jsm, 30_000);
  const from = (await sys.jsm.streams.info("ORDERS")).state.last_seq + 1;
  const http = await httpLoad({ url: `${sys.orderUrl}/orders`, rate: 200, durationS: 10 });
  await waitDrained(sys.jsm, 30_000);
  const consumer = await sys.js.consumers.get("ORDERS", { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: from });
  const end = (await sys.jsm.streams.info("ORDERS")).state.last_seq;
  const t = new Map<string, Record<string, number>>();
  const msgs = await consumer.consume({ max_messages: 2000 });
  for await (const m of msgs) {
    const [, , id, type] = m.subject.split(".");
    const rec = t.get(id!) ?? {};
    rec[type!] = Number(m.timestampNanos) / 1e6;
    if (type === "ORDER_CREATED") rec.occurred = Date.parse(m.json<{ occurredAt: string }>().occurredAt);
    t.set(id!, rec);
    if (m.seq >= end) break;
  }
  msgs.stop();
  const hop = (a: string, b: string) => [...t.values()].filter((r) => r[a] && r[b]).map((r) => r[b]! - r[a]!).sort((x, y) => x - y);
  const show = (name: string, xs: number[]) => `${name} p50 ${percentile(xs, 50).toFixed(1)} p90 ${percentile(xs, 90).toFixed(1)} p99 ${percentile(xs, 99).toFixed(1)} max ${xs.at(-1)?.toFixed(1)}`;
  console.log(`[${v}] http p50 ${http.latency.p50} p99 ${http.latency.p99}`);
  console.log("  " + show("occurred→stored", hop("occurred", "ORDER_CREATED")));
  console.log("  " + show("created→paid", hop("ORDER_CREATED", "PAYMENT_COMPLETED")));
  console.log("  " + show("paid→shipped", hop("PAYMENT_COMPLETED", "SHIPPING_READY")));
  console.log("  " + show("total", hop("occurred", "SHIPPING_READY")));
  await sys.stop();
}
process.exit(0);
