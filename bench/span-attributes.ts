/**
 * What naming and attributing a span costs, per span, in-process: the messaging spans' destination,
 * name and attributes (otel/messaging-attributes.ts, nats/subjects.ts) and the HTTP SERVER span's
 * request attributes (otel/http-server-span.ts). Paid only for a recorded span; the figure to hold
 * against the budget of one order (10 spans on a happy order).
 *
 *   node --import tsx bench/span-attributes.ts [--ops 300000] [--rounds 3]
 */
import { parseArgs } from "node:util";
import { eventDestination } from "../nats/subject-templates.ts";
import { httpServerRequestAttributes } from "../otel/http-server-span.ts";
import {
  consumerAttributes,
  messagingSpanName,
  producerAttributes,
  PROCESS_OPERATION,
  PUBLISH_OPERATION,
} from "../otel/messaging-attributes.ts";

const { values } = parseArgs({ options: { ops: { type: "string", default: "300000" }, rounds: { type: "string", default: "3" } } });
const OPS = Number(values.ops);
const ROUNDS = Number(values.rounds);
const WARMUP = 10_000;

const SUBJECT = "orders.7.0b9c3c55-5d0e-4b43-9d65-3b0a3b7a2f10.ORDER_CREATED";
const REQUEST = new Request("http://127.0.0.1:3000/orders?x=1", {
  method: "POST",
  headers: { host: "127.0.0.1:3000", "user-agent": "bench" },
});

const cases: Record<string, () => unknown> = {
  "PRODUCER name + attributes": () => {
    const d = eventDestination(SUBJECT);
    return [
      messagingSpanName(PUBLISH_OPERATION.name, d),
      producerAttributes({ destination: d, messageId: "e", bodySize: 300, stream: "ORDERS", orderId: "o", eventType: "ORDER_CREATED" }),
    ];
  },
  "CONSUMER name + attributes": () => {
    const d = eventDestination(SUBJECT);
    return [
      messagingSpanName(PROCESS_OPERATION.name, d),
      consumerAttributes({
        destination: d,
        consumerGroup: "payment-p07",
        bodySize: 300,
        stream: "ORDERS",
        streamSequence: 1,
        deliveryCount: 1,
        eventType: "ORDER_CREATED",
        orderId: "o",
      }),
    ];
  },
  "SERVER request attributes": () =>
    httpServerRequestAttributes(REQUEST, { clientAddress: "127.0.0.1", clientPort: 50_000, protocolVersion: "1.1" }),
};

let sink: unknown;
for (const [label, run] of Object.entries(cases)) {
  const rounds: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    for (let i = 0; i < WARMUP; i++) sink = run();
    const started = performance.now();
    for (let i = 0; i < OPS; i++) sink = run();
    rounds.push(((performance.now() - started) * 1000) / OPS);
  }
  console.log(`${label}: ${rounds.map((us) => us.toFixed(2)).join(" / ")} µs per span (${ROUNDS} rounds of ${OPS})`);
}
if (sink === undefined) process.exit(1);
