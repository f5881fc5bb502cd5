/**
 * Notifications kept in the NOTIFICATIONS stream, one subject per (user, order, event type):
 * `notifications.<userId>.<orderId>.<eventType>`. Storing one is guarded like order events (msg id =
 * eventId, and "no message on this subject yet"), so an event is recorded once whatever the
 * redeliveries; a user's list is one subject filter, read by any instance.
 */
import { DeliverPolicy, PubHeaders, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream";
import type { JetStreamPublisher } from "../../nats/jetstream-publisher.ts";
import { isWrongLastSequence } from "../../nats/wrong-last-sequence.ts";
import { messageHeaders } from "../../nats/message-headers.ts";
import type { EventType } from "../../shared/events.ts";
import { NOTIFICATIONS_STREAM, notificationSubject, userNotificationsFilter } from "../../nats/subjects.ts";
import type { Notification } from "./domain/notification.ts";

/** Upper bound of one listing; older entries beyond it are not returned. */
export const MAX_LISTED = 10_000;

const encoder = new TextEncoder();

/** Records a notification; false when it was already recorded. */
export async function recordNotification(publisher: JetStreamPublisher, n: Notification): Promise<boolean> {
  const h = messageHeaders({
    [PubHeaders.MsgIdHdr]: n.eventId,
    [PubHeaders.ExpectedLastSubjectSequenceHdr]: "0",
    [PubHeaders.ExpectedStreamHdr]: NOTIFICATIONS_STREAM,
  });
  try {
    const ack = await publisher.publish(
      notificationSubject(n.userId, n.orderId, n.eventType as EventType),
      encoder.encode(JSON.stringify(n)),
      h,
    );
    return !ack.duplicate;
  } catch (err) {
    if (isWrongLastSequence(err)) return false;
    throw err;
  }
}

/** Whether the notification is recorded already (a direct get of its subject's last message). */
export async function isNotificationRecorded(jsm: JetStreamManager, n: Notification): Promise<boolean> {
  const subject = notificationSubject(n.userId, n.orderId, n.eventType as EventType);
  return (await jsm.direct.getMessage(NOTIFICATIONS_STREAM, { last_by_subj: subject })) !== null;
}

/** A user's notifications, oldest first. */
export async function listNotifications(
  js: JetStreamClient,
  jsm: JetStreamManager,
  userId: string,
  timeoutMs = 5_000,
): Promise<Notification[]> {
  const filter = userNotificationsFilter(userId);
  const info = await jsm.streams.info(NOTIFICATIONS_STREAM, { subjects_filter: filter });
  const total = Object.values(info.state.subjects ?? {}).reduce((sum, n) => sum + n, 0);
  if (total === 0) return [];
  const consumer = await js.consumers.get(NOTIFICATIONS_STREAM, {
    filter_subjects: filter,
    deliver_policy: DeliverPolicy.All,
  });
  const wanted = Math.min(total, MAX_LISTED);
  const out: Notification[] = [];
  const messages = await consumer.consume({ max_messages: Math.min(wanted, 1_000) });
  const timer = setTimeout(() => messages.stop(), timeoutMs);
  try {
    for await (const m of messages) {
      out.push(m.json<Notification>());
      if (out.length >= wanted || m.info.pending === 0) break;
    }
  } finally {
    clearTimeout(timer);
    messages.stop();
  }
  return out;
}
