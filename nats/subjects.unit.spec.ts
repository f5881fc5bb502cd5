import { describe, expect, it } from "vitest";
import { EVENT_TYPES } from "../shared/events.ts";
import {
  BUCKETS,
  consumerNames,
  ownResourcesOf,
  CONSUMED_EVENT_TYPES,
  consumerFilterSubjects,
  consumerName,
  consumerOfDeadLetter,
  DEAD_LETTERS_FILTER,
  DEAD_LETTER_SUBJECTS,
  deadLetterSubject,
  DLQ_SUBJECTS,
  dlqRetryConsumer,
  eventSubject,
  HUB_ORIGIN_TYPES,
  ordersStreamSubjects,
  orderSubjectFilter,
  parseEventSubject,
  parseRetrySubject,
  partitionOf,
  PARTITIONS,
  laneSubjectFilters,
  LANES,
  laneOf,
  laneOfConsumer,
  LANE_COUNTS,
  lanePartitions,
  partitionConsumerNames,
  retryFilter,
  retrySubject,
  SERVICES,
  serviceOfConsumer,
  SITE_ORIGIN_TYPES,
  siteForwardFilters,
  siteReturnFilters,
} from "./subjects.ts";
import { eventDestination, eventSubjectTemplate } from "./subject-templates.ts";
import { subjectMatches } from "../test/support/subject-match.ts";

// FNV-1a 32-bit test vectors (from the FNV reference test suite), and one non-ASCII input: the
// hash runs over the UTF-8 bytes ("é" = c3 a9).
const FNV1A_32: Array<[string, number]> = [
  ["", 0x811c9dc5],
  ["a", 0xe40c292c],
  ["b", 0xe70c2de5],
  ["c", 0xe60c2c52],
  ["fo", 0x6222e842],
  ["foo", 0xa9f37ed7],
  ["foob", 0x3f5076ef],
  ["fooba", 0x39aaa18a],
  ["foobar", 0xbf9cf968],
  ["é", 0x1e9de8c1],
  // ASCII first, then not: the whole key is hashed over its bytes, not the prefix twice.
  ["fooé", 0x0c1cca4f],
];

describe("partitionOf", () => {
  it.each(FNV1A_32)("FNV-1a 32 of %j modulo n, for several n", (input, hash) => {
    for (const n of [1, 2, 3, 7, 10, 16, 97, 1000, 65_536, 2 ** 31 - 1]) {
      expect(partitionOf(input, n), `n = ${n}`).toBe(hash % n);
    }
  });

  it.each(FNV1A_32)("modulo 2^32 is the whole hash of %j", (input, hash) => {
    expect(partitionOf(input, 2 ** 32)).toBe(hash);
  });

  it("defaults to PARTITIONS (16)", () => {
    expect(PARTITIONS).toBe(16);
    for (const [input, hash] of FNV1A_32) expect(partitionOf(input)).toBe(hash % 16);
  });

  it("spreads uuids over every partition", () => {
    const seen = new Set<number>();
    for (let i = 0; i < 2000; i++) seen.add(partitionOf(`00000000-0000-4000-8000-${String(i).padStart(12, "0")}`));
    expect([...seen].sort((a, b) => a - b)).toEqual(Array.from({ length: PARTITIONS }, (_, p) => p));
  });
});

describe("eventSubject", () => {
  const orderId = "2b1e6a56-8c1f-4b0e-9d7a-3f0c2a9e5b71";

  it("is orders.<partition>.<orderId>.<eventType>", () => {
    expect(eventSubject(orderId, "PAYMENT_COMPLETED")).toBe(`orders.${partitionOf(orderId)}.${orderId}.PAYMENT_COMPLETED`);
    expect(eventSubject("foobar", "ORDER_CREATED")).toBe(`orders.${0xbf9cf968 % 16}.foobar.ORDER_CREATED`);
  });

  it("puts every event of one order under that order's filter", () => {
    const filter = orderSubjectFilter(orderId);
    for (const type of EVENT_TYPES) expect(eventSubject(orderId, type).startsWith(filter.slice(0, -1))).toBe(true);
  });

  it.each(EVENT_TYPES)("round-trips %s through parseEventSubject", (eventType) => {
    expect(parseEventSubject(eventSubject(orderId, eventType))).toEqual({ partition: partitionOf(orderId), orderId, eventType });
  });
});

describe("parseEventSubject", () => {
  it("splits an ORDERS subject into its tokens", () => {
    expect(parseEventSubject("orders.7.abc.ORDER_CREATED")).toEqual({ partition: 7, orderId: "abc", eventType: "ORDER_CREATED" });
    expect(parseEventSubject("orders.15.o-1.SHIPPING_READY")).toEqual({ partition: 15, orderId: "o-1", eventType: "SHIPPING_READY" });
  });

  it.each([
    "orders.7.abc",
    "orders.7.abc.ORDER_CREATED.extra",
    "order.7.abc.ORDER_CREATED",
    "notifications.user.abc.ORDER_CREATED",
    "orders",
    "",
  ])("is null for %j", (subject) => {
    expect(parseEventSubject(subject)).toBeNull();
  });

  it.each(["orders.x.abc.ORDER_CREATED", "orders..abc.ORDER_CREATED", "orders.-1.abc.ORDER_CREATED"])(
    "is null for %j, whose partition token is not a partition number",
    (subject) => {
      expect(parseEventSubject(subject)).toBeNull();
    },
  );
});

describe("eventDestination (tracing's view of a subject)", () => {
  it("given an event's subject, then the subject, its template with placeholders for partition and order id, and the partition", () => {
    const orderId = "0b9c3c55-5d0e-4b43-9d65-3b0a3b7a2f10";
    const subject = eventSubject(orderId, "PAYMENT_COMPLETED");
    expect(eventDestination(subject)).toEqual({
      name: subject,
      template: "orders.{partition}.{orderId}.PAYMENT_COMPLETED",
      partitionId: String(partitionOf(orderId)),
    });
  });

  it("given one template per event type, then as many templates as types: the cardinality stays bounded", () => {
    const templates = new Set(EVENT_TYPES.map((t) => eventSubjectTemplate(t)));
    expect(templates.size).toBe(EVENT_TYPES.length);
  });

  it("given a last token that is no event type, then a placeholder for it too", () => {
    expect(eventDestination("orders.3.x.WHATEVER-1234")).toMatchObject({ template: "orders.{partition}.{orderId}.{eventType}" });
  });

  it("given a site's order, then the site is a placeholder too", () => {
    const siteId = "edge1-0b9c3c55-5d0e-4b43-9d65-3b0a3b7a2f10";
    expect(eventDestination(eventSubject(siteId, "ORDER_CREATED"))).toMatchObject({
      template: "sites.{site}.orders.{partition}.{orderId}.ORDER_CREATED",
    });
  });

  it("given a subject outside the ORDERS scheme, then no template", () => {
    expect(eventDestination("notifications.u.o.ORDER_CREATED")).toEqual({ name: "notifications.u.o.ORDER_CREATED", template: null });
  });
});

describe('a site\'s orders (README "Sites")', () => {
  const uuid = "2b1e6a56-8c1f-4b0e-9d7a-3f0c2a9e5b71";
  const siteId = `edge1-${uuid}`;
  const hub = { kind: "hub", sites: ["edge1", "edge2"] } as const;
  const site = { kind: "site", site: "edge1", hubDomain: "hub" } as const;

  it("given an id naming a site, when its subject is asked for, then it is sites.<site>.orders.<p>.<id>.<T> wherever it is asked", () => {
    expect(eventSubject(siteId, "ORDER_CREATED")).toBe(`sites.edge1.orders.${partitionOf(siteId)}.${siteId}.ORDER_CREATED`);
    expect(orderSubjectFilter(siteId)).toBe(`sites.edge1.orders.${partitionOf(siteId)}.${siteId}.*`);
    // A plain id keeps the single-site form.
    expect(eventSubject(uuid, "ORDER_CREATED")).toBe(`orders.${partitionOf(uuid)}.${uuid}.ORDER_CREATED`);
  });

  it.each(EVENT_TYPES)("round-trips %s of a site's order through parseEventSubject", (eventType) => {
    expect(parseEventSubject(eventSubject(siteId, eventType))).toEqual({ partition: partitionOf(siteId), orderId: siteId, eventType });
  });

  it("refuses a sites subject whose site token is not the one its order id names", () => {
    expect(parseEventSubject(`sites.edge2.orders.3.${siteId}.ORDER_CREATED`)).toBeNull();
    expect(parseEventSubject(`sites.edge1.orders.3.${uuid}.ORDER_CREATED`)).toBeNull();
    expect(parseEventSubject(`sites.edge1.order.3.${siteId}.ORDER_CREATED`)).toBeNull();
  });

  it("gives the hub's ORDERS every site's subjects and a site's ORDERS its own, a single site none", () => {
    expect(ordersStreamSubjects({ kind: "single" })).toEqual(["orders.*.*.*"]);
    expect(ordersStreamSubjects(hub)).toEqual(["orders.*.*.*", "sites.*.orders.*.*.*"]);
    expect(ordersStreamSubjects(site)).toEqual(["orders.*.*.*", "sites.edge1.orders.*.*.*"]);
  });

  it("filters the hub's payment, shipping and notification consumers to sites' orders too, the hub's order service not", () => {
    // Lane 3 of 4 holds partitions 3, 7, 11 and 15.
    expect(consumerFilterSubjects("payment", 3, hub)).toEqual(
      ["orders", "sites.*.orders"].flatMap((prefix) =>
        [3, 7, 11, 15].flatMap((p) => ["ORDER_CREATED", "ORDER_CANCEL_REQUESTED", "SHIPPING_FAILED"].map((t) => `${prefix}.${p}.*.${t}`)),
      ),
    );
    expect(consumerFilterSubjects("notification", 3, hub)).toEqual([
      "orders.3.*.*",
      "orders.7.*.*",
      "orders.11.*.*",
      "orders.15.*.*",
      "sites.*.orders.3.*.*",
      "sites.*.orders.7.*.*",
      "sites.*.orders.11.*.*",
      "sites.*.orders.15.*.*",
    ]);
    expect(consumerFilterSubjects("order", 3, hub)).toEqual(consumerFilterSubjects("order", 3));
    expect(laneSubjectFilters("shipping", 3, hub)).toEqual(consumerFilterSubjects("notification", 3, hub));
  });

  it("filters a site's order service to its own orders only", () => {
    expect(consumerFilterSubjects("order", 1, site)).toEqual(
      [1, 5, 9, 13].flatMap((p) => [`sites.edge1.orders.${p}.*.PAYMENT_FAILED`, `sites.edge1.orders.${p}.*.PAYMENT_REFUNDED`]),
    );
    expect(laneSubjectFilters("order", 1, site)).toEqual([1, 5, 9, 13].map((p) => `sites.edge1.orders.${p}.*.*`));
  });

  it("reads every partition through exactly one lane of each service", () => {
    expect(LANES).toBe(4);
    expect(PARTITIONS % LANES).toBe(0);
    const all = Array.from({ length: LANES }, (_, lane) => lanePartitions(lane)).flat();
    expect(all.sort((a, b) => a - b)).toEqual(Array.from({ length: PARTITIONS }, (_, p) => p));
    for (let p = 0; p < PARTITIONS; p++) expect(lanePartitions(laneOf(p))).toContain(p);
    expect(consumerNames("payment")).toEqual(["payment-lane0", "payment-lane1", "payment-lane2", "payment-lane3"]);
    expect(partitionConsumerNames("payment")).toHaveLength(PARTITIONS);
    expect(partitionConsumerNames("payment")[7]).toBe("payment-p07");
  });

  it("lays the partitions out for any lane count there can be", () => {
    for (const lanes of LANE_COUNTS) {
      const all = Array.from({ length: lanes }, (_, lane) => lanePartitions(lane, lanes)).flat();
      expect(
        all.sort((a, b) => a - b),
        `${lanes} lanes`,
      ).toEqual(Array.from({ length: PARTITIONS }, (_, p) => p));
      for (let p = 0; p < PARTITIONS; p++) expect(lanePartitions(laneOf(p, lanes), lanes)).toContain(p);
    }
    expect(lanePartitions(1, 2)).toEqual([1, 3, 5, 7, 9, 11, 13, 15]);
    expect(consumerNames("shipping", 2)).toEqual(["shipping-lane0", "shipping-lane1"]);
    expect(laneOfConsumer("shipping", "shipping-lane1")).toBe(1);
    expect(laneOfConsumer("shipping", "payment-lane1")).toBeNull();
    expect(laneOfConsumer("shipping", "shipping-p01")).toBeNull();
  });

  it("sends each event type one way only: what a site originates forward, the rest back", () => {
    expect([...SITE_ORIGIN_TYPES, ...HUB_ORIGIN_TYPES].sort()).toEqual([...EVENT_TYPES].sort());
    expect(SITE_ORIGIN_TYPES.filter((t) => HUB_ORIGIN_TYPES.includes(t))).toEqual([]);
    // The site's order service decides only on what comes back; the hub's services only on what goes forward or their own.
    expect(CONSUMED_EVENT_TYPES.order.every((t) => HUB_ORIGIN_TYPES.includes(t))).toBe(true);
    expect(siteForwardFilters("edge1")).toEqual(SITE_ORIGIN_TYPES.map((t) => `sites.edge1.orders.*.*.${t}`));
    expect(siteReturnFilters("edge1")).toEqual(HUB_ORIGIN_TYPES.map((t) => `sites.edge1.orders.*.*.${t}`));
  });
});

describe("dead-letter names", () => {
  it("given a partition consumer's dead letter, when its subject is read back, then it names the consumer and its service", () => {
    for (const service of SERVICES) {
      const consumer = consumerName(service, 7);
      const subject = deadLetterSubject(consumer, 42);
      expect(consumerOfDeadLetter(subject)).toBe(consumer);
      expect(serviceOfConsumer(consumer)).toBe(service);
      expect(
        subjectMatches(DEAD_LETTERS_FILTER, subject) &&
          subjectMatches(DEAD_LETTER_SUBJECTS, subject) &&
          subjectMatches(DLQ_SUBJECTS, subject),
      ).toBe(true);
    }
  });

  it("given a retry request, when parsed, then it gives back the consumer and ORDERS sequence, and only the service's own durable takes it", () => {
    const subject = retrySubject("payment", consumerName("payment", 3), 99);
    expect(parseRetrySubject(subject)).toEqual({ consumer: "payment-lane3", streamSeq: 99 });
    expect(subjectMatches(retryFilter("payment"), subject)).toBe(true);
    expect(subjectMatches(retryFilter("shipping"), subject)).toBe(false);
    // A retry request is no dead letter (dlq list does not show it) but lives in the same stream.
    expect(subjectMatches(DEAD_LETTERS_FILTER, subject)).toBe(false);
    expect(subjectMatches(DLQ_SUBJECTS, subject)).toBe(true);
    expect(new Set(SERVICES.map(dlqRetryConsumer)).size).toBe(SERVICES.length);
  });

  it("refuses what is not a dead letter, a retry request or a partition consumer", () => {
    expect(consumerOfDeadLetter("dlq.retry.payment.payment-p03.9")).toBeNull();
    expect(consumerOfDeadLetter("orders.1.o.ORDER_CREATED")).toBeNull();
    for (const subject of [
      "dlq.retry.payment.payment-p03",
      "dlq.retry.payment.payment-p03.0",
      "dlq.retry.payment.payment-p03.x",
      "dlq.orders.payment-p03.9",
    ])
      expect(parseRetrySubject(subject), subject).toBeNull();
    expect(serviceOfConsumer(dlqRetryConsumer("payment"))).toBeNull();
    expect(serviceOfConsumer("billing-p01")).toBeNull();
    expect(serviceOfConsumer("billing-lane1")).toBeNull();
    // A dead letter written before lanes still names its service.
    expect(serviceOfConsumer("payment-p07")).toBe("payment");
  });
});

describe("a service's own NATS resources (its manifest's `nats`)", () => {
  it("resolve to the names nats/subjects.ts gives them", () => {
    expect(ownResourcesOf("order")).toEqual({ buckets: [BUCKETS.idempotencyKeys], streams: [] });
    expect(ownResourcesOf("notification")).toEqual({ buckets: [], streams: [{ name: "NOTIFICATIONS", subjects: "notifications.*.*.*" }] });
    expect(ownResourcesOf("loyalty")).toEqual({ buckets: ["loyalty-points"], streams: [] });
    expect(ownResourcesOf("payment")).toEqual({ buckets: [], streams: [] });
  });

  it("name the loyalty consumers after the service, and filter them to the payments", () => {
    expect(consumerNames("loyalty")[3]).toBe("loyalty-lane3");
    expect(consumerFilterSubjects("loyalty", 3)).toEqual(
      [3, 7, 11, 15].flatMap((p) => [`orders.${p}.*.PAYMENT_COMPLETED`, `orders.${p}.*.PAYMENT_REFUNDED`]),
    );
  });
});
