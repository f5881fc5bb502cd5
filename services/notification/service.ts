/**
 * The notification service: one notification per order event for the order's user, recorded
 * durably in JetStream and, when NOTIFY_WEBHOOK_URL is set, POSTed there.
 *
 * Recording is guarded like the order events (one message per notification subject, whatever the
 * redeliveries), so the stream itself is the fence against notifying twice: no per-order state. The
 * webhook is POSTed before the notification is recorded, with `Idempotency-Key: <eventId>`: a
 * recorded notification was POSTed, and when the service dies between the two, the event comes
 * again and POSTs with the same key, which the receiver uses to drop the repeat (the usual webhook
 * contract). The POST is a CLIENT span under the delivery's CONSUMER span and carries its
 * `traceparent`, so the order's trace reaches the receiver (otel/http-client-span.ts). An event
 * that may have been handled before (a redelivery, a replay, a take-over) is
 * first looked up in the stream, so a notification recorded already is not POSTed again.
 */
import { Hono } from "hono";
import type { Context } from "@opentelemetry/api";
import * as v from "valibot";
import type { ServiceDefinition, Infra } from "../../host/service-definition.ts";
import type { PartitionHandler } from "../../nats/delivery.ts";
import { ORDER_ID_PATTERN } from "../../shared/ids.ts";
import { requireUserId, USER_ID_NOT_FOUND, USER_ID_PARAMETER } from "../../shared/http/user-id.ts";
import { describeRoute, jsonResponse, problems, UNAVAILABLE } from "../../shared/http/openapi.ts";
import { EVENT_TYPES } from "../../shared/events.ts";
import { tracedFetch } from "../../otel/http-client-span.ts";
import { notificationFor, type Notification } from "./domain/notification.ts";
import { isNotificationRecorded, listNotifications, recordNotification } from "./store.ts";

export interface NotificationRuntime {
  infra: Infra;
}

const WEBHOOK_TIMEOUT_MS = 5_000;

export class WebhookError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "WebhookError";
  }
}

/** POSTs one notification under a CLIENT span of the delivery's trace (`parent`), which its `traceparent` names. */
async function postWebhook(url: string, notification: Notification, parent: Context): Promise<void> {
  const response = await tracedFetch(
    url,
    {
      method: "POST",
      headers: { "content-type": "application/json", "idempotency-key": notification.eventId },
      body: JSON.stringify(notification),
      signal: AbortSignal.timeout(WEBHOOK_TIMEOUT_MS),
    },
    parent,
  ).catch((err) => {
    throw new WebhookError(`webhook ${url} did not answer: ${(err as Error).message}`, { cause: err });
  });
  await response.body?.cancel();
  if (!response.ok) throw new WebhookError(`webhook ${url} answered ${response.status}`);
}

/** GET /users/{userId}/notifications answers this (the OpenAPI document is generated from it). */
export const NotificationsBody = v.array(
  v.object({
    eventId: v.string(),
    orderId: v.pipe(v.string(), v.regex(new RegExp(ORDER_ID_PATTERN))),
    eventType: v.picklist(EVENT_TYPES),
    sentAt: v.pipe(v.string(), v.isoTimestamp()),
    message: v.string(),
  }),
);
type NotificationsAnswer = v.InferOutput<typeof NotificationsBody>;

export const notificationService: ServiceDefinition<NotificationRuntime> = {
  name: "notification",
  async setup(infra) {
    return { infra };
  },
  handlers(rt) {
    const webhook = rt.infra.config.notifyWebhookUrl;
    const { jsm, streamPublisher } = rt.infra;
    const handler: PartitionHandler = {
      forget() {},
      async handle(event, delivery) {
        const notification = notificationFor(event, new Date());
        if (webhook) {
          if (!delivery.firstSight && (await isNotificationRecorded(jsm, notification))) return;
          await postWebhook(webhook, notification, delivery.trace);
        }
        await recordNotification(streamPublisher, notification);
      },
    };
    return () => handler;
  },
  routes(app, runtime) {
    const users = new Hono();
    users.get(
      "/:userId/notifications",
      describeRoute({
        operationId: "listNotifications",
        tags: ["notifications"],
        summary: "What the user was told, oldest first",
        description: "One notification per order event, never two for the same eventId; one order's in the order of its events.",
        parameters: [USER_ID_PARAMETER],
        responses: {
          200: jsonResponse("The notifications (an empty list for a user never notified).", NotificationsBody),
          ...problems({ ...USER_ID_NOT_FOUND, ...UNAVAILABLE }),
        },
      }),
      async (c) => {
        const userId = requireUserId(c.req.param("userId"));
        const rt = runtime();
        const list = await listNotifications(rt.infra.js, rt.infra.jsm, userId);
        return c.json(
          list.map(({ eventId, orderId, eventType, sentAt, message }) => ({
            eventId,
            orderId,
            eventType,
            sentAt,
            message,
          })) satisfies NotificationsAnswer,
        );
      },
    );
    app.route("/users", users);
  },
  api: () => ({
    description:
      "What each customer was told: one notification per order event, kept durably in JetStream. Errors are RFC 9457 `application/problem+json`.",
  }),
};
