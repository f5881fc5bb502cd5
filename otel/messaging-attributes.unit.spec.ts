/**
 * The messaging spans' names and attributes (messaging-attributes.ts), after the messaging
 * conventions: a low-cardinality span name, the template beside the subject, `messaging.system.name`
 * and not its deprecated predecessor.
 */
import { describe, expect, it } from "vitest";
import { consumerAttributes, messagingSpanName, producerAttributes, type MessagingDestination } from "./messaging-attributes.ts";

const ORDER_ID = "0b9c3c55-5d0e-4b43-9d65-3b0a3b7a2f10";
const DESTINATION: MessagingDestination = {
  name: `orders.7.${ORDER_ID}.ORDER_CREATED`,
  template: "orders.{partition}.{orderId}.ORDER_CREATED",
  partitionId: "7",
};

describe("messagingSpanName", () => {
  it("given a templated destination, then the operation and the template, never the subject with its order id", () => {
    const name = messagingSpanName("publish", DESTINATION);
    expect(name).toBe("publish orders.{partition}.{orderId}.ORDER_CREATED");
    expect(name).not.toContain(ORDER_ID);
  });

  it("given a subject of no known form, then the operation alone", () => {
    expect(messagingSpanName("process", { name: "elsewhere.x.y", template: null })).toBe("process");
  });
});

describe("producerAttributes", () => {
  it("given one published event, then a send span of system nats with subject, template, partition and message facts", () => {
    const attrs = producerAttributes({
      destination: DESTINATION,
      messageId: "e-1",
      bodySize: 321,
      stream: "ORDERS",
      orderId: ORDER_ID,
      eventType: "ORDER_CREATED",
    });
    expect(attrs).toEqual({
      "messaging.system.name": "nats",
      "messaging.operation.type": "send",
      "messaging.operation.name": "publish",
      "messaging.destination.name": DESTINATION.name,
      "messaging.destination.template": DESTINATION.template,
      "messaging.destination.partition.id": "7",
      "messaging.message.id": "e-1",
      "messaging.message.body.size": 321,
      "messaging.nats.stream.name": "ORDERS",
      "orderstream.order_id": ORDER_ID,
      "orderstream.event_type": "ORDER_CREATED",
    });
    // Deprecated in the conventions aligned with: not emitted any more.
    expect(attrs["messaging.system"]).toBeUndefined();
  });
});

describe("consumerAttributes", () => {
  it("given one delivery, then a process span with the durable consumer as the consumer group and JetStream's facts", () => {
    const attrs = consumerAttributes({
      destination: DESTINATION,
      consumerGroup: "payment-lane3",
      bodySize: 321,
      stream: "ORDERS",
      streamSequence: 42,
      deliveryCount: 2,
      eventType: "ORDER_CREATED",
      orderId: ORDER_ID,
    });
    expect(attrs).toEqual({
      "messaging.system.name": "nats",
      "messaging.operation.type": "process",
      "messaging.operation.name": "process",
      "messaging.destination.name": DESTINATION.name,
      "messaging.destination.template": DESTINATION.template,
      "messaging.destination.partition.id": "7",
      "messaging.consumer.group.name": "payment-lane3",
      "messaging.message.body.size": 321,
      "messaging.nats.stream.name": "ORDERS",
      "messaging.nats.stream.sequence": 42,
      "messaging.nats.delivery_count": 2,
      "orderstream.event_type": "ORDER_CREATED",
      "orderstream.order_id": ORDER_ID,
    });
  });

  it("given a subject of no known form, then neither template nor partition nor order id", () => {
    const attrs = consumerAttributes({
      destination: { name: "orders.x", template: null },
      consumerGroup: "notification-lane0",
      bodySize: 3,
      stream: "ORDERS",
      streamSequence: 1,
      deliveryCount: 1,
      eventType: "unknown",
    });
    expect(Object.keys(attrs)).not.toContain("messaging.destination.template");
    expect(Object.keys(attrs)).not.toContain("messaging.destination.partition.id");
    expect(Object.keys(attrs)).not.toContain("orderstream.order_id");
    expect(attrs["messaging.destination.name"]).toBe("orders.x");
  });
});
