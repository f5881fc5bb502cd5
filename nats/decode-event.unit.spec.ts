// Every consumed message is checked against the event schema AND its own subject before a handler
// sees it (nats/partitioned-consumer.ts decodeEvent); anything else goes to the DLQ with this reason.
import { describe, expect, it } from "vitest";
import { decodeEvent } from "./delivery.ts";
import { completeEvent } from "./publish-event.ts";
import { eventSubject } from "./subjects.ts";

const A = "0c0ffee0-0000-4000-8000-00000000000a";
const B = "0c0ffee0-0000-4000-8000-00000000000b";
const enc = (v: unknown) => new TextEncoder().encode(typeof v === "string" ? v : JSON.stringify(v));

async function created(orderId = A) {
  return completeEvent({ eventType: "ORDER_CREATED", orderId, userId: "u1", amount: 5, currency: "USD", items: [] });
}

describe("decodeEvent", () => {
  it("accepts an event on its own subject", async () => {
    const event = await created();
    expect(decodeEvent({ subject: eventSubject(A, "ORDER_CREATED"), data: enc(event) })).toEqual(event);
  });

  it("rejects an event whose type differs from the subject's", async () => {
    const reason = decodeEvent({ subject: eventSubject(A, "PAYMENT_COMPLETED"), data: enc(await created()) });
    expect(reason).toBe(`subject ${eventSubject(A, "PAYMENT_COMPLETED")} does not match event ORDER_CREATED of order ${A}`);
  });

  it("rejects an event whose order id differs from the subject's", async () => {
    const reason = decodeEvent({ subject: eventSubject(B, "ORDER_CREATED"), data: enc(await created(A)) });
    expect(reason).toMatch(/does not match event ORDER_CREATED of order/);
  });

  it("rejects a subject that is not an event subject", async () => {
    const event = await created();
    for (const subject of [
      `orders.x.${A}.ORDER_CREATED`,
      `orders.1.${A}`,
      `orders.1.${A}.ORDER_CREATED.extra`,
      `other.1.${A}.ORDER_CREATED`,
    ]) {
      expect(typeof decodeEvent({ subject, data: enc(event) }), subject).toBe("string");
    }
  });

  it("rejects bodies that are not JSON or not an event, naming the failing fields", async () => {
    const subject = eventSubject(A, "ORDER_CREATED");
    expect(decodeEvent({ subject, data: enc("{not json") })).toBe("message body is not JSON");
    const { amount: _dropped, ...noAmount } = (await created()) as { amount: number } & Record<string, unknown>;
    expect(decodeEvent({ subject, data: enc(noAmount) })).toMatch(/^invalid event: .*amount/);
    expect(decodeEvent({ subject, data: enc({ ...(await created()), eventType: "ORDER_HACKED" }) })).toMatch(/^invalid event/);
    expect(decodeEvent({ subject, data: enc(null) })).toMatch(/^invalid event/);
  });
});
