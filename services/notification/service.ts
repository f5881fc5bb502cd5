/**
 * The notification service: one notification per order event for the order's user, recorded
 * durably in JetStream and, when NOTIFY_WEBHOOK_URL is set, POSTed there.
 *
 * The webhook is delivered at least once with an `Idempotency-Key: <eventId>` header: if the
 * service dies after the POST and before its state is saved, the redelivered event POSTs again
 * with the same key, which the receiver uses to drop the repeat (the usual webhook contract).
 */
import { Hono } from "hono";
import type { ServiceDefinition, Infra } from "../../shared/service-host.ts";
import { ensureBucket } from "../../nats/setup.ts";
import { bucketOptions } from "../../nats/definitions.ts";
import { BUCKETS } from "../../nats/subjects.ts";
import { createOrderStateStore, statefulHandler, type OrderStateStore } from "../../nats/order-state.ts";
import { EVENT_TYPES } from "../../shared/events.ts";
import { isUserId } from "../../shared/ids.ts";
import { HttpProblem } from "../../shared/http/problem.ts";
import { notificationFor, type Notification } from "./domain/notification.ts";
import { listNotifications, recordNotification } from "./store.ts";

/** Only the fence is kept per order: notifications themselves live in the stream. */
type NotificationState = Record<string, never>;

export interface NotificationRuntime {
  infra: Infra;
  store: OrderStateStore<NotificationState>;
}

const WEBHOOK_TIMEOUT_MS = 5_000;

export class WebhookError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "WebhookError";
  }
}

async function postWebhook(url: string, notification: Notification): Promise<void> {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", "idempotency-key": notification.eventId },
    body: JSON.stringify(notification),
    signal: AbortSignal.timeout(WEBHOOK_TIMEOUT_MS),
  }).catch((err) => {
    throw new WebhookError(`webhook ${url} did not answer: ${(err as Error).message}`, { cause: err });
  });
  await response.body?.cancel();
  if (!response.ok) throw new WebhookError(`webhook ${url} answered ${response.status}`);
}

export const notificationService: ServiceDefinition<NotificationRuntime> = {
  relevant: new Set(EVENT_TYPES),
  async setup(infra) {
    const kv = await ensureBucket(infra.nc, infra.jsm, BUCKETS.notificationState, bucketOptions.state);
    return { infra, store: createOrderStateStore<NotificationState>(kv) };
  },
  handler(rt) {
    const webhook = rt.infra.config.notifyWebhookUrl;
    if (!webhook) {
      // Recording is the only effect, and the NOTIFICATIONS stream's per-subject guard already
      // keeps it to once per event, in handling (= stream) order: no per-order state is needed,
      // which saves two KV round trips per event.
      return async (event) => {
        await recordNotification(rt.infra.js, notificationFor(event, new Date()));
      };
    }
    // With a webhook, the per-order fence keeps a redelivered or replayed event from POSTing again.
    return statefulHandler<NotificationState, "notify">(
      {
        initialState: () => ({}),
        evolve: (state) => state,
        decide: () => ["notify"],
        async perform(_notify, event) {
          const notification = notificationFor(event, new Date());
          await recordNotification(rt.infra.js, notification);
          await postWebhook(webhook, notification);
        },
      },
      rt.store,
    );
  },
  routes(app, runtime) {
    const users = new Hono();
    users.get("/:userId/notifications", async (c) => {
      const userId = c.req.param("userId");
      if (!isUserId(userId)) {
        throw new HttpProblem(404, "user-not-found", "User ids are 1-64 letters, digits, '_' or '-'.");
      }
      const rt = runtime();
      const list = await listNotifications(rt.infra.js, rt.infra.jsm, userId);
      return c.json(
        list.map(({ eventId, orderId, eventType, sentAt, message }) => ({ eventId, orderId, eventType, sentAt, message })),
      );
    });
    app.route("/users", users);
  },
};
