import { it } from "vitest";
import { writeFileSync } from "node:fs";
import { startOtlpReceiver } from "./support/otlp-receiver.ts";
import { startSystem, postOrder, waitForStatus, getJson } from "./support/system.ts";
it("explore", async () => {
  const receiver = await startOtlpReceiver();
  const sys = await startSystem({ env: { OTEL_TRACES_EXPORTER: "otlp", OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_BSP_SCHEDULE_DELAY: "200", PAYMENT_LIMIT: "500" } });
  try {
    const ok = await postOrder(sys.orderUrl, { userId: "u1", amount: 100, items: [{ sku: "A-1", quantity: 1, unitPrice: 100 }] });
    await waitForStatus(sys.orderUrl, ok.body.orderId, ["SHIPPING_READY"]);
    const bad = await postOrder(sys.orderUrl, { userId: "u2", amount: 900 });
    await waitForStatus(sys.orderUrl, bad.body.orderId, ["CANCELLED"]);
    await new Promise((r) => setTimeout(r, 3000)); for (const s of sys.services) writeFileSync(`/tmp/explore/${s.name}.log`, s.output());
    const ev = await getJson(`${sys.orderUrl}/orders/${ok.body.orderId}/events`);
    writeFileSync("/tmp/explore/out.json", JSON.stringify({ ok: ok.body, bad: bad.body, events: ev.body, spans: receiver.spans(), rejected: receiver.rejected() }, null, 1));
  } finally { await sys.stop(); await receiver.close(); }
});
