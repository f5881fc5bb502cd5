/**
 * TEST-ONLY (imports vitest): Emmett-style given/when/then specs for the pure domain cores, and a
 * factory for real, schema-valid order events. Never import this from product code.
 *
 * @example
 * const spec = DeciderSpec.for({ initialState, evolve, decide: (s, e: OrderEvent) => decide(s, e, rules) });
 * spec.given([anEvent("ORDER_CREATED")]).when(anEvent("PAYMENT_COMPLETED")).then([...]);
 */
import { expect } from "vitest";
import { EVENT_TYPES, parseEvent, SCHEMA_VERSION, type EventOf, type EventType, type OrderEvent } from "../events.ts";

/** The three pure functions under test; adapt a core's own `decide` signature with a one-line lambda. */
export interface DeciderUnderTest<State, Input, Output> {
  initialState: () => State;
  evolve: (state: State, event: OrderEvent) => State;
  /** What is decided about `input`, given the state folded from the history before it. */
  decide: (state: State, input: Input) => Output;
}

export interface Given<State, Input, Output> {
  when(input: Input): When<Output>;
  /** The state folded from the given events: an expected value (asymmetric matchers allowed) or an assertion. */
  thenState(expected: State | ((state: State) => void)): void;
}

export interface When<Output> {
  /** The decision equals `expected` (deep equality). */
  then(expected: Output | ((output: Output) => void)): void;
  /** The decision is an empty list: nothing is published or carried out. */
  thenNothing(): void;
  thenThrows(expected?: string | RegExp): void;
}

function run<State, Input, Output>(
  decider: DeciderUnderTest<State, Input, Output>,
  events: readonly OrderEvent[],
  input?: { value: Input },
): { state: State; output?: Output } {
  let state = decider.initialState();
  for (const event of events) {
    const before = structuredClone(state);
    const next = decider.evolve(state, event);
    // Pure cores: evolve returns a new state and leaves the old one as it was.
    expect(state, `evolve(${event.eventType}) mutated its input state`).toEqual(before);
    state = next;
  }
  if (!input) return { state };
  const before = structuredClone(state);
  const output = decider.decide(state, input.value);
  expect(state, "decide mutated the state").toEqual(before);
  return { state, output };
}

/** Given/when/then over a decider; each `then*` runs the fold and the decision afresh. */
export const DeciderSpec = {
  for<State, Input, Output>(decider: DeciderUnderTest<State, Input, Output>) {
    return {
      given(events: readonly OrderEvent[] = []): Given<State, Input, Output> {
        return {
          thenState(expected) {
            const { state } = run(decider, events);
            if (typeof expected === "function") (expected as (state: State) => void)(state);
            else expect(state).toEqual(expected);
          },
          when(input) {
            const decided = () => run(decider, events, { value: input }).output as Output;
            return {
              then(expected) {
                const output = decided();
                if (typeof expected === "function") (expected as (output: Output) => void)(output);
                else expect(output).toEqual(expected);
              },
              thenNothing() {
                expect(decided()).toEqual([]);
              },
              thenThrows(expected) {
                expect(decided).toThrow(expected);
              },
            };
          },
        };
      },
    };
  },
};

export const ORDER_ID = "order-1";
export const USER_ID = "user-1";
/** Default `occurredAt` of the first event type; each later type in EVENT_TYPES is one second later. */
export const T0 = Date.parse("2026-11-24T10:00:00.000Z");

type EnvelopeKey = "eventType" | "orderId" | "userId" | "eventId" | "occurredAt" | "schemaVersion";
type BodyOf<T extends EventType> = Omit<EventOf<T>, EnvelopeKey>;

const BODIES: { [T in EventType]: BodyOf<T> } = {
  ORDER_CREATED: { amount: 100, currency: "USD", items: [{ sku: "A-1", quantity: 1, unitPrice: 100 }] },
  PAYMENT_COMPLETED: { paymentId: "pay-1", amount: 100, currency: "USD" },
  PAYMENT_FAILED: { reason: "declined: amount above limit" },
  SHIPPING_READY: { shippingId: "ship-1" },
  SHIPPING_FAILED: { reason: "unavailable: OUT-OF-STOCK", unavailableSkus: ["OUT-OF-STOCK"] },
  ORDER_CANCEL_REQUESTED: {},
  PAYMENT_REFUNDED: { paymentId: "pay-1", amount: 100, currency: "USD", reason: "SHIPPING_FAILED" },
  ORDER_CANCELLED: { cancelReason: "PAYMENT_FAILED" },
};

/**
 * A schema-valid event of `eventType` for order ORDER_ID of USER_ID, with the envelope filled in
 * (eventId `<orderId>:<eventType>`, occurredAt T0 + the type's index in seconds) and typical fields;
 * `fields` overrides any of them. Throws if the result is not a valid event.
 */
export function anEvent<T extends EventType>(eventType: T, fields: Partial<Omit<EventOf<T>, "eventType">> = {}): EventOf<T> {
  const orderId = fields.orderId ?? ORDER_ID;
  const candidate = {
    eventType,
    orderId,
    userId: USER_ID,
    eventId: `${orderId}:${eventType}`,
    occurredAt: new Date(T0 + EVENT_TYPES.indexOf(eventType) * 1000).toISOString(),
    schemaVersion: SCHEMA_VERSION,
    ...structuredClone(BODIES[eventType]),
    ...fields,
  };
  const parsed = parseEvent(candidate);
  if (!parsed.ok) throw new Error(`anEvent(${eventType}) built an invalid event: ${parsed.reason}`);
  return parsed.event as EventOf<T>;
}
