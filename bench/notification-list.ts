/**
 * What `GET /users/{userId}/notifications` costs as the NOTIFICATIONS stream grows: fills the stream
 * (this system's subjects, `notifications.<userId>.<orderId>.<eventType>`, 10,000 users) in steps,
 * and after each step lists ten users' notifications with the service's own `listNotifications`,
 * timing it and reading nats-server's CPU from /proc.
 *
 *   node --import tsx bench/notification-list.ts [--steps 30000,120000,300000]
 *
 * BENCHMARKS.md, "Fourth session", quotes it. Needs `nats-server` like the bench.
 */
import { randomUUID } from "node:crypto";
import { parseArgs } from "node:util";
import { ensureOrderStreams } from "../nats/setup.ts";
import { notificationSubject } from "../nats/subjects.ts";
import { listNotifications } from "../services/notification/store.ts";
import { onBareServer, procCpuSeconds } from "./system.ts";

const { values } = parseArgs({ options: { steps: { type: "string", default: "30000,120000,300000" } } });
const USERS = 10_000;
const LISTINGS = 10;

await onBareServer("notification-list-bench", async ({ server, js, jsm }) => {
  await ensureOrderStreams(jsm, 1);
  let stored = 0;
  for (const target of values.steps!.split(",").map(Number)) {
    const inFlight: Promise<unknown>[] = [];
    for (; stored < target; stored++) {
      const userId = `u${stored % USERS}`;
      const notification = { eventId: randomUUID(), orderId: randomUUID(), userId, eventType: "ORDER_CREATED", sentAt: new Date().toISOString(), message: "Order received: 42.00 USD." };
      inFlight.push(js.publish(notificationSubject(userId, notification.orderId, "ORDER_CREATED"), JSON.stringify(notification)));
      if (inFlight.length >= 1_000) await Promise.all(inFlight.splice(0));
    }
    await Promise.all(inFlight);
    const cpuBefore = procCpuSeconds(server.pid);
    const started = performance.now();
    let listed = 0;
    for (let i = 0; i < LISTINGS; i++) listed += (await listNotifications(js, jsm, `u${i * 7}`)).length;
    const ms = (performance.now() - started) / LISTINGS;
    const serverMs = ((procCpuSeconds(server.pid) - cpuBefore) / LISTINGS) * 1e3;
    console.log(
      `${target.toLocaleString("en-US")} notifications stored: listing one user's ${listed / LISTINGS} took ${ms.toFixed(1)} ms, ` +
        `${serverMs.toFixed(1)} ms of nats-server CPU`,
    );
  }
});
process.exit(0);
