import { headers, MsgHdrsImpl, type MsgHdrs } from "@nats-io/transport-node";
import { describe, expect, it } from "vitest";
import { messageHeaders } from "./message-headers.ts";
import { headerValue } from "../otel/nats-headers.ts";

/** The header block nats.js puts on the wire for these headers (its publish calls encode()). */
const wire = (h: MsgHdrs) => new TextDecoder().decode((h as MsgHdrsImpl).encode());

const TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00";

describe("messageHeaders (a publish's headers from a record)", () => {
  it("given the event headers, when encoded, then the bytes are those nats.js's own set() calls make", () => {
    const record = {
      traceparent: TRACEPARENT,
      "Nats-Msg-Id": "6b0e8d1e-0000-8000-8000-000000000001",
      "Nats-Expected-Last-Subject-Sequence": "0",
      "Nats-Expected-Stream": "ORDERS",
    };
    const reference = headers();
    for (const [key, value] of Object.entries(record)) reference.set(key, value);
    const built = messageHeaders({ ...record });
    expect(wire(built)).toBe(wire(reference));
    expect(built.get("Nats-Msg-Id")).toBe(record["Nats-Msg-Id"]);
    expect(built.keys()).toEqual(Object.keys(record));
  });

  it("given a value with spaces around it, when built, then it is trimmed as set() trims it", () => {
    expect(messageHeaders({ "Nats-Msg-Id": "  x-1 " }).get("Nats-Msg-Id")).toBe("x-1");
  });

  it("given a value with a line break, when built, then it throws rather than break the header block", () => {
    expect(() => messageHeaders({ "Nats-Msg-Id": "a\r\nNats-Expected-Stream: OTHER" })).toThrow(/cannot contain/);
    expect(() => messageHeaders({ tracestate: "a\nb" })).toThrow(/tracestate/);
  });

  it("given no headers, when encoded, then the block is empty as nats.js's is", () => {
    expect(wire(messageHeaders({}))).toBe(wire(headers()));
  });
});

describe("headerValue (a received header read without MsgHdrs.get)", () => {
  it("given nats.js's headers, then it answers what get() answers, by exact name", () => {
    const h = headers();
    h.set("traceparent", TRACEPARENT);
    h.append("Nats-Pin-Id", "pin-1");
    h.append("Nats-Pin-Id", "pin-2");
    for (const name of ["traceparent", "Nats-Pin-Id", "TRACEPARENT", "nats-pin-id", "absent"]) {
      expect(headerValue(h, name), name).toBe(h.get(name));
    }
  });

  it("given headers decoded from the wire, then it reads them too", () => {
    const sent = messageHeaders({ traceparent: TRACEPARENT, "Nats-Pin-Id": "pin-1" }) as MsgHdrsImpl;
    const h = MsgHdrsImpl.decode(sent.encode());
    expect(headerValue(h, "traceparent")).toBe(TRACEPARENT);
    expect(headerValue(h, "Nats-Pin-Id")).toBe("pin-1");
    expect(headerValue(undefined, "traceparent")).toBe("");
  });
});
