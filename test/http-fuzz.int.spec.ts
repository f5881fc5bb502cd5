// Hostile input against the order API (and the notification route), run in-process through
// `app.request()` against a real nats-server:
// - fast-check generates and mutates bodies, headers and path ids: never a 5xx, every status one the
//   document names, every error problem+json without internals, and afterwards the ORDERS stream
//   holds only valid events whose subject matches them;
// - JSON bodies cannot reach Object.prototype;
// - a core subscription to `>` watches every subject while ids with `*`, `>`, `.`, spaces and
//   unicode hit every route: none of them reaches NATS, and no subject ever carries user input.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import type { Subscription } from "@nats-io/transport-node";
import { useNatsServer } from "./support/use-nats-server.ts";
import { startInProcess, type InProcessService } from "./support/in-process.ts";
import { parseEvent } from "../shared/events.ts";
import { isOrderId, isUserId } from "../shared/ids.ts";
import { DLQ_STREAM, eventSubject, ORDERS_STREAM } from "../nats/subjects.ts";
import { MAX_BODY_BYTES } from "../shared/http/json-body.ts";

/** fast-check runs per property; FUZZ_RUNS scales them all (the file stays well under 40 s at 1). */
const SCALE = Number(process.env.FUZZ_RUNS ?? "1");
const runs = (n: number) => Math.max(1, Math.round(n * SCALE));
/** A hard stop per property, so a slow machine shortens the run instead of timing the file out. */
const TIME_LIMIT_MS = 5_000;
const TOKEN = "s3cret-token";

const DOCUMENTED_STATUSES = new Set([200, 201, 202, 400, 401, 404, 409, 413, 415, 422]);

const nats = useNatsServer();
let order: InProcessService;
let guarded: InProcessService;
let notification: InProcessService;
let requests = 0;
/** Order ids the API answered 201/200 with. */
const created = new Set<string>();

beforeAll(async () => {
  order = await startInProcess("order", nats.url);
  // A second order instance with ORDER_API_TOKEN set: the bearer check is fuzzed there.
  guarded = await startInProcess("order", nats.url, { ORDER_API_TOKEN: TOKEN });
  notification = await startInProcess("notification", nats.url);
});

afterAll(async () => {
  if (process.env.FUZZ_REPORT) console.log(`fuzz: ${requests} requests, ${created.size} orders`);
  await Promise.all([order?.stop(), guarded?.stop(), notification?.stop()]);
});

interface Answer {
  status: number;
  headers: Headers;
  text: string;
}

async function send(app: InProcessService, path: string, init: RequestInit = {}): Promise<Answer> {
  requests++;
  const res = await app.app.request(path, init);
  return { status: res.status, headers: res.headers, text: await res.text() };
}

/** What every answer of every route must satisfy. */
function checkAnswer(a: Answer, what: string): void {
  const where = `${what} → ${a.status} ${a.text.slice(0, 300)}`;
  expect(a.status, where).toBeLessThan(500);
  expect(DOCUMENTED_STATUSES.has(a.status), where).toBe(true);
  expect(a.headers.get("x-content-type-options"), where).toBe("nosniff");
  // No stack frames or file paths in any body; no error class names or broker internals in errors.
  expect(a.text, where).not.toMatch(/\bat .+:\d+:\d+|node_modules|\/work\/|file:\/\//);
  if (a.status >= 400) {
    expect(a.text, where).not.toMatch(/\w+Error\b|JetStream|NATS|nats-io|stack/);
    expect(a.headers.get("content-type"), where).toBe("application/problem+json");
    const problem = JSON.parse(a.text);
    expect(problem, where).toMatchObject({ status: a.status });
    expect(problem.type, where).toMatch(/^https:\/\/orderstream\.dev\/problems\/[a-z-]+$/);
    expect(typeof problem.title, where).toBe("string");
    expect(typeof problem.detail, where).toBe("string");
  }
  if ((a.status === 201 || a.status === 200) && /json/.test(a.headers.get("content-type") ?? "")) {
    const body = JSON.parse(a.text);
    if (body && typeof body === "object" && "orderId" in body && body.status === "CREATED") {
      expect(isOrderId(body.orderId), where).toBe(true);
      created.add(body.orderId);
    }
  }
}

/** Header values as a Node server would hand them over: any bytes, read as latin1; no CR/LF/NUL. */
function asHeaderValue(s: string): string {
  const bytes = new TextEncoder().encode(s);
  return String.fromCharCode(...bytes.slice(0, 8_000))
    .replace(/[\r\n\0]/g, "")
    .trim();
}

// ---- arbitraries ---------------------------------------------------------------------------

const userIdArb = fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/);
const centsArb = fc.integer({ min: 1, max: 10_000_000 });
const itemArb = fc.record({
  sku: fc.stringMatching(/^[\x21-\x7e]{1,64}$/),
  quantity: fc.integer({ min: 1, max: 5 }),
  unitCents: fc.integer({ min: 0, max: 100_000 }),
});
const validBodyArb = fc
  .record({
    userId: userIdArb,
    cents: centsArb,
    currency: fc.option(fc.constantFrom("USD", "EUR", "JPY"), { nil: undefined }),
    items: fc.option(fc.array(itemArb, { maxLength: 4 }), { nil: undefined }),
  })
  .map(({ userId, cents, currency, items }) => {
    const body: Record<string, unknown> = { userId, amount: cents / 100 };
    if (currency) body.currency = currency;
    if (items && items.length > 0) {
      const total = items.reduce((sum, i) => sum + i.quantity * i.unitCents, 0);
      if (total > 0) {
        body.items = items.map((i) => ({ sku: i.sku, quantity: i.quantity, unitPrice: i.unitCents / 100 }));
        body.amount = total / 100;
      }
    }
    return body;
  });

const hostileStringArb = fc.oneof(
  fc.string(),
  fc.string({ unit: "grapheme", maxLength: 40 }),
  fc.string({ unit: "binary", maxLength: 40 }),
  fc.constantFrom(
    "*",
    ">",
    ".",
    " ",
    "a.b",
    "orders.>",
    "u*",
    "u>",
    "u 1",
    "ü",
    "😀",
    "\u0000",
    "\u202e",
    "%2A",
    "a".repeat(65),
    "x".repeat(10_000),
  ),
);
const weirdValueArb = fc.oneof(
  hostileStringArb,
  fc.constantFrom(null, true, false, 0, -0, -1, Number.POSITIVE_INFINITY, 0.001, 1.005, 1e9 + 1, Number.MAX_SAFE_INTEGER, "100", [], {}),
  fc.double(),
  fc.integer(),
  fc.jsonValue({ maxDepth: 3 }),
);
const keyArb = fc.constantFrom("userId", "amount", "currency", "items", "__proto__", "constructor", "prototype", "extra", "toString");
type Mutation =
  | { kind: "drop"; key: string }
  | { kind: "set"; key: string; value: unknown }
  | { kind: "item"; field: string; value: unknown }
  | { kind: "wrap" }
  | { kind: "truncate"; at: number };
const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant("drop" as const), key: keyArb }),
  fc.record({ kind: fc.constant("set" as const), key: keyArb, value: weirdValueArb }),
  fc.record({
    kind: fc.constant("item" as const),
    field: fc.constantFrom("sku", "quantity", "unitPrice", "__proto__"),
    value: weirdValueArb,
  }),
  fc.record({ kind: fc.constant("wrap" as const) }),
  fc.record({ kind: fc.constant("truncate" as const), at: fc.nat() }),
);

/** A valid body's JSON text after some mutations (the text itself is what is sent). */
function mutate(body: Record<string, unknown>, mutations: Mutation[]): string {
  let value: unknown = structuredClone(body);
  let cut: number | undefined;
  for (const m of mutations) {
    const obj = value as Record<string, unknown>;
    if (m.kind === "drop" && obj && typeof obj === "object") delete obj[m.key];
    // defineProperty: a "__proto__" key becomes an own property, as JSON.parse would make it.
    if (m.kind === "set" && obj && typeof obj === "object")
      Object.defineProperty(obj, m.key, { value: m.value, enumerable: true, writable: true, configurable: true });
    if (m.kind === "item" && obj && typeof obj === "object") {
      const item = { sku: "A-1", quantity: 1, unitPrice: 1 };
      Object.defineProperty(item, m.field, { value: m.value, enumerable: true, writable: true, configurable: true });
      obj.items = [item];
    }
    if (m.kind === "wrap") value = [value];
    if (m.kind === "truncate") cut = m.at;
  }
  const text = JSON.stringify(value) ?? "";
  return cut === undefined ? text : text.slice(0, cut % (text.length + 1));
}

const bodyTextArb = fc.oneof(
  { weight: 3, arbitrary: validBodyArb.map((b) => JSON.stringify(b)) },
  { weight: 5, arbitrary: fc.tuple(validBodyArb, fc.array(mutationArb, { minLength: 1, maxLength: 3 })).map(([b, m]) => mutate(b, m)) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)) },
  { weight: 1, arbitrary: hostileStringArb },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      "",
      "{",
      "null",
      "[]",
      "{}",
      '{"userId":"u","amount":1,"userId":"*"}',
      "\ufeff{}",
      `{"a":${"[".repeat(5000)}${"]".repeat(5000)}}`,
    ),
  },
);

const contentTypeArb = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.constantFrom(
      "application/json",
      "application/json; charset=utf-8",
      "APPLICATION/JSON",
      "application/problem+json",
      "application/vnd.orderstream+json",
    ),
  },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      undefined,
      "",
      "text/plain",
      "application/x-www-form-urlencoded",
      "multipart/form-data; boundary=x",
      "application/jsonx",
      "json",
      "application/json;;;",
      "application/xml",
      " application/json",
    ),
  },
  { weight: 1, arbitrary: fc.string().map(asHeaderValue) },
);
const idempotencyKeyArb = fc.oneof(
  { weight: 4, arbitrary: fc.constant(undefined) },
  { weight: 2, arbitrary: fc.stringMatching(/^[\x21-\x7e]{1,40}$/) },
  { weight: 2, arbitrary: hostileStringArb.map(asHeaderValue) },
  { weight: 1, arbitrary: fc.constantFrom("", " ", "*", ">", "a.b", "k".repeat(255), "k".repeat(256), asHeaderValue("ключ")) },
);
const authorizationArb = fc.oneof(
  fc.constant(undefined),
  fc.constant(`Bearer ${TOKEN}`),
  fc.constantFrom(
    `bearer ${TOKEN}`,
    `Bearer  ${TOKEN} `,
    "Bearer",
    "Bearer ",
    `Basic ${TOKEN}`,
    `Bearer ${TOKEN}x`,
    `Bearer ${TOKEN.slice(1)}`,
    TOKEN,
  ),
  fc.string().map((s) => asHeaderValue(`Bearer ${s}`)),
);

function headersOf(parts: Record<string, string | undefined>): Headers {
  const h = new Headers();
  for (const [k, v] of Object.entries(parts)) if (v !== undefined) h.set(k, v);
  return h;
}

// ---- properties ----------------------------------------------------------------------------

const assertOptions = (numRuns: number) => ({
  numRuns: runs(numRuns),
  interruptAfterTimeLimit: TIME_LIMIT_MS,
  markInterruptAsFailure: false,
  endOnFailure: true,
});

describe("order API under generated and mutated input", () => {
  it("answers every generated POST /orders with a documented status, problem+json on errors", async () => {
    const before = requests;
    await fc.assert(
      fc.asyncProperty(bodyTextArb, contentTypeArb, idempotencyKeyArb, async (body, contentType, key) => {
        const a = await send(order, "/orders", {
          method: "POST",
          headers: headersOf({ "content-type": contentType, "idempotency-key": key }),
          body,
        });
        checkAnswer(a, `POST /orders ${JSON.stringify({ contentType, key, body: body.slice(0, 200) })}`);
        // A body that does not parse as JSON is never an order.
        let parsed = true;
        try {
          JSON.parse(body.replace(/^\ufeff/, "")); // a leading BOM is dropped by the UTF-8 decoder, as RFC 8259 allows
        } catch {
          parsed = false;
        }
        if (!parsed && /^application\/([\w.+-]+\+)?json\s*(;|$)/i.test(contentType ?? "")) expect(a.status).toBe(400);
      }),
      assertOptions(3000),
    );
    expect(requests - before).toBeGreaterThan(200);
  });

  it("answers the bearer-guarded API by its token only", async () => {
    const before = requests;
    await fc.assert(
      fc.asyncProperty(authorizationArb, validBodyArb, fc.boolean(), async (authorization, body, get) => {
        const a = get
          ? await send(guarded, "/orders/3e9c6d5e-3d0c-4d7a-9f7e-5a0b0c0d0e0f", { headers: headersOf({ authorization }) })
          : await send(guarded, "/orders", {
              method: "POST",
              headers: headersOf({ authorization, "content-type": "application/json" }),
              body: JSON.stringify(body),
            });
        checkAnswer(a, `guarded ${get ? "GET" : "POST"} with ${JSON.stringify(authorization)}`);
        const ok =
          authorization !== undefined && /^Bearer\s+/i.test(authorization) && authorization.replace(/^Bearer\s+/i, "").trim() === TOKEN;
        if (ok) expect(a.status).not.toBe(401);
        else {
          expect(a.status).toBe(401);
          expect(a.headers.get("www-authenticate")).toBe('Bearer realm="orderstream"');
        }
      }),
      assertOptions(600),
    );
    expect(requests - before).toBeGreaterThan(50);
    // Health, readiness and metrics stay open.
    for (const path of ["/healthz", "/readyz", "/metrics"]) expect((await send(guarded, path)).status).toBe(200);
  });

  it("answers every generated path id with 404 unless it is an issued id", async () => {
    const known = [...created].slice(0, 20);
    expect(known.length).toBeGreaterThan(0);
    const idArb = fc.oneof(
      { weight: 4, arbitrary: hostileStringArb.filter((s) => s.length > 0) },
      { weight: 1, arbitrary: fc.uuid() },
      { weight: 1, arbitrary: fc.uuid().map((u) => u.toUpperCase()) },
      { weight: 1, arbitrary: fc.constantFrom(...known) },
      {
        weight: 1,
        arbitrary: fc.tuple(fc.constantFrom(...known), fc.constantFrom(" ", "*", ">", ".x", "\n", "%00", "/", "é")).map(([k, s]) => k + s),
      },
    );
    const routeArb = fc.constantFrom(
      { method: "GET", suffix: "" },
      { method: "GET", suffix: "/events" },
      { method: "GET", suffix: "/events?fromSeq=" },
      { method: "POST", suffix: "/cancel" },
      { method: "GET", suffix: "/trace" },
      { method: "GET", suffix: "/view" },
    );
    const before = requests;
    await fc.assert(
      fc.asyncProperty(idArb, routeArb, fc.boolean(), fc.string(), async (id, route, encode, fromSeq) => {
        const token = encode ? encodeURIComponent(id) : id;
        const suffix = route.suffix.endsWith("=") ? route.suffix + encodeURIComponent(fromSeq) : route.suffix;
        let a: Answer;
        try {
          a = await send(order, `/orders/${token}${suffix}`, { method: route.method });
        } catch (err) {
          // A raw id that is not a valid URL at all never reaches a server; nothing to check.
          if (err instanceof TypeError && /URL/i.test(err.message)) return;
          throw err;
        }
        checkAnswer(a, `${route.method} /orders/${JSON.stringify(token.slice(0, 100))}${suffix}`);
        if (encode && !isOrderId(id)) expect(a.status).toBe(404);
      }),
      assertOptions(2000),
    );
    expect(requests - before).toBeGreaterThan(200);
  });

  it("answers generated user ids on the notification route with 404 unless they are valid", async () => {
    const before = requests;
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          hostileStringArb.filter((s) => s.length > 0),
          userIdArb,
        ),
        async (id) => {
          const a = await send(notification, `/users/${encodeURIComponent(id)}/notifications`);
          checkAnswer(a, `GET /users/${JSON.stringify(id.slice(0, 100))}/notifications`);
          expect(a.status).toBe(isUserId(id) ? 200 : 404);
        },
      ),
      assertOptions(400),
    );
    expect(requests - before).toBeGreaterThan(50);
  });

  it("caps bodies at 64 KiB, also chunked ones without a Content-Length", async () => {
    const big = JSON.stringify({ userId: "u1", amount: 1, pad: "x".repeat(MAX_BODY_BYTES) });
    const declared = await send(order, "/orders", { method: "POST", headers: { "content-type": "application/json" }, body: big });
    expect(declared.status).toBe(413);
    checkAnswer(declared, "declared big body");
    const chunked = (text: string, chunk: number) =>
      new ReadableStream<Uint8Array>({
        start(controller) {
          const bytes = new TextEncoder().encode(text);
          for (let i = 0; i < bytes.length; i += chunk) controller.enqueue(bytes.slice(i, i + chunk));
          controller.close();
        },
      });
    const init = (text: string): RequestInit & { duplex: "half" } => ({
      method: "POST",
      headers: { "content-type": "application/json" },
      body: chunked(text, 4096),
      duplex: "half",
    });
    const streamedBig = await send(order, "/orders", init(big));
    expect(streamedBig.status).toBe(413);
    checkAnswer(streamedBig, "chunked big body");
    const streamedSmall = await send(order, "/orders", init(JSON.stringify({ userId: "chunked", amount: 2 })));
    expect(streamedSmall.status).toBe(201);
    checkAnswer(streamedSmall, "chunked small body");
    // A lying Content-Length (smaller than the body) does not let more than 64 KiB through either.
    const lying = await send(order, "/orders", { ...init(big), headers: { "content-type": "application/json", "content-length": "10" } });
    expect([400, 413]).toContain(lying.status);
  });

  it("never lets a JSON body reach Object.prototype", async () => {
    const names = Object.getOwnPropertyNames(Object.prototype).sort();
    const post = (body: string) => send(order, "/orders", { method: "POST", headers: { "content-type": "application/json" }, body });
    const proto = await post('{"userId":"proto","amount":1,"__proto__":{"polluted":1,"amount":5}}');
    expect(proto.status).toBe(201);
    const ctor = await post('{"userId":"ctor","amount":1,"constructor":{"prototype":{"polluted":1}}}');
    expect(ctor.status).toBe(201);
    const nested = await post('{"userId":"nested","amount":1,"items":[{"sku":"A","quantity":1,"unitPrice":1,"__proto__":{"polluted":1}}]}');
    expect(nested.status).toBe(201);
    for (const a of [proto, ctor, nested]) checkAnswer(a, "prototype keys");
    // Fields hidden behind __proto__ do not count as the body's own.
    const hidden = await post('{"__proto__":{"userId":"hidden","amount":1}}');
    expect(hidden.status).toBe(422);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(names);
    // The stored events hold the schema's fields only.
    for (const a of [proto, ctor, nested]) {
      const orderId = JSON.parse(a.text).orderId;
      const events = JSON.parse((await send(order, `/orders/${orderId}/events`)).text);
      const data = events[0].data;
      expect(Object.keys(data).sort()).toEqual([
        "amount",
        "currency",
        "eventId",
        "eventType",
        "items",
        "occurredAt",
        "orderId",
        "schemaVersion",
        "userId",
      ]);
      expect(data.amount).toBe(1);
      expect(JSON.stringify(events)).not.toMatch(/polluted|__proto__|prototype/);
    }
  });

  it("leaves only valid events on the ORDERS stream, each on its own subject", async () => {
    expect(requests).toBeGreaterThan(1_000);
    const info = await nats.jsm.streams.info(ORDERS_STREAM);
    expect(info.state.messages).toBeGreaterThan(0);
    const createdSeen = new Set<string>();
    for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) {
      const m = await nats.jsm.streams.getMessage(ORDERS_STREAM, { seq });
      if (!m) continue; // a gap (nothing is deleted from ORDERS, but do not fail on one)
      const parsed = parseEvent(m.json());
      expect(parsed.ok, `seq ${seq} ${m.subject}: ${parsed.ok ? "" : parsed.reason}`).toBe(true);
      if (!parsed.ok) continue;
      expect(m.subject).toBe(eventSubject(parsed.event.orderId, parsed.event.eventType));
      expect(m.header?.get("Nats-Msg-Id")).toBe(parsed.event.eventId);
      if (parsed.event.eventType === "ORDER_CREATED") createdSeen.add(parsed.event.orderId);
    }
    // Exactly the orders the API confirmed were created, no more.
    expect([...createdSeen].sort()).toEqual([...created].sort());
    // And nothing had to be dead-lettered.
    const dlq = await nats.jsm.streams.info(DLQ_STREAM).catch(() => null);
    expect(dlq?.state.messages ?? 0).toBe(0);
  });
});

// ---- subject injection ---------------------------------------------------------------------

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const SAFE_TOKEN = /^[A-Za-z0-9_$-]+$/;

/** Why a subject could not have come from this system's own naming, or null when it fits it. */
function foreignSubject(subject: string): string | null {
  const tokens = subject.split(".");
  const wildcardCreate = /^\$JS\.API\.CONSUMER\.CREATE\.NOTIFICATIONS\.[A-Za-z0-9_-]+\.notifications\.([A-Za-z0-9_-]{1,64})\.\*\.\*$/.exec(
    subject,
  );
  if (wildcardCreate) return null;
  const bad = tokens.find((t) => !SAFE_TOKEN.test(t));
  if (bad !== undefined) return `token ${JSON.stringify(bad)}`;
  const orders = /(^|\.)orders\.(\d+)\.([^.]+)\.([A-Z_]+)$/.exec(subject);
  if (subject.includes("orders.") && !subject.startsWith("dlq.") && !subject.startsWith("$JS.ACK.") && !subject.includes("CONSUMER")) {
    if (!orders || !UUID.test(orders[3]!)) return "an orders subject without a valid order id";
  }
  if (subject.startsWith("notifications.") && !/^notifications\.[A-Za-z0-9_-]{1,64}\.[0-9a-f-]{36}\.[A-Z_]+$/.test(subject)) {
    return "a notifications subject that is not <userId>.<orderId>.<type>";
  }
  return null;
}

describe("ids from users never become subjects", () => {
  let sub: Subscription;
  let seen: string[] = [];
  /** Payloads of the JetStream API requests seen (filters travel there, e.g. `subjects_filter`). */
  let payloads: string[] = [];

  beforeAll(async () => {
    sub = nats.nc.subscribe(">", {
      callback: (_err, m) => {
        seen.push(m.subject);
        if (m.subject.startsWith("$JS.API.")) payloads.push(m.string());
      },
    });
    await nats.nc.flush();
  });
  afterAll(() => sub?.unsubscribe());

  const MARK = "zq7";
  const hostileIds = [
    "*",
    ">",
    ".",
    " ",
    "..",
    "a.b",
    "orders.>",
    "orders.*.*.*",
    `${MARK}*`,
    `${MARK}>`,
    `${MARK}.x`,
    `${MARK} x`,
    `${MARK}\tx`,
    `${MARK}é`,
    `${MARK}😀`,
    `${MARK}\u202e`,
    `${MARK}%2A`,
    `${MARK}/x`,
    `${MARK}${"y".repeat(300)}`,
    "3e9c6d5e-3d0c-4d7a-9f7e-5a0b0c0d0e0f.*",
    " 3e9c6d5e-3d0c-4d7a-9f7e-5a0b0c0d0e0f",
    "3e9c6d5e-3d0c-4d7a-9f7e-5a0b0c0d0e0f\n",
  ];

  async function everyRoute(id: string): Promise<Answer[]> {
    const p = encodeURIComponent(id);
    const json = { "content-type": "application/json" };
    return [
      await send(order, `/orders/${p}`),
      await send(order, `/orders/${p}/events`),
      await send(order, `/orders/${p}/events?fromSeq=1`),
      await send(order, `/orders/${p}/trace`),
      await send(order, `/orders/${p}/view`),
      await send(order, `/orders/${p}/cancel`, { method: "POST" }),
      await send(order, "/orders", { method: "POST", headers: json, body: JSON.stringify({ userId: id, amount: 1 }) }),
      await send(order, "/orders", { method: "POST", headers: json, body: JSON.stringify({ userId: "ok", amount: 1, currency: id }) }),
      await send(notification, `/users/${p}/notifications`),
    ];
  }

  it("answers hostile ids on every route before any NATS call", async () => {
    seen = [];
    payloads = [];
    for (const id of hostileIds) {
      const answers = await everyRoute(id);
      for (const a of answers) checkAnswer(a, `hostile ${JSON.stringify(id)}`);
      expect(isUserId(id)).toBe(false);
      expect(
        answers.map((a) => a.status),
        JSON.stringify(id),
      ).toEqual([404, 404, 404, 404, 404, 404, 422, 422, 404]);
    }
    await nats.nc.flush();
    // Background work (the services' consumers) goes on, but nothing a route does with an id: the
    // notification route's first call (stream info with the user's filter) never happened, and no
    // subject or API request carries any part of a hostile id.
    expect(seen.filter((s) => /^\$JS\.API\.(STREAM\.INFO|CONSUMER\.CREATE)\.NOTIFICATIONS/.test(s))).toEqual([]);
    expect(seen.map((s) => [s, foreignSubject(s)] as const).filter(([, why]) => why !== null)).toEqual([]);
    expect(seen.filter((s) => s.includes(MARK) || s.split(".").some((t) => t === "*" || t === ">"))).toEqual([]);
    expect(payloads.filter((p) => p.includes(MARK) || p.includes("orders.>") || p.includes("orders.*"))).toEqual([]);
    // The sku is a body field, never a subject token: an item whose sku is `*` or `a.b` is a valid order.
    for (const sku of ["*", ">", "a.b", "orders.>"]) {
      const a = await send(order, "/orders", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ userId: "sku", amount: 1, items: [{ sku, quantity: 1, unitPrice: 1 }] }),
      });
      expect(a.status).toBe(201);
    }
    await nats.nc.flush();
    expect(seen.map((s) => [s, foreignSubject(s)] as const).filter(([, why]) => why !== null)).toEqual([]);
  });

  it("hashes hostile Idempotency-Keys: only hex reaches a KV subject", async () => {
    seen = [];
    const userId = `keyed-${Date.now()}`; // a body no earlier test used with these keys
    for (const key of hostileIds.map(asHeaderValue).filter((k) => k.length > 0)) {
      const a = await send(order, "/orders", {
        method: "POST",
        headers: { "content-type": "application/json", "idempotency-key": key },
        body: JSON.stringify({ userId, amount: 3 }),
      });
      checkAnswer(a, `Idempotency-Key ${JSON.stringify(key)}`);
      // 200: two keys that header trimming makes equal; 422: the fuzz above used the key (e.g. `*`) with another body.
      expect([200, 201, 400, 422], `${JSON.stringify(key)}: ${a.text}`).toContain(a.status);
    }
    await nats.nc.flush();
    const kv = seen.filter((s) => s.startsWith("$KV.idempotency-keys."));
    expect(kv.length).toBeGreaterThan(0);
    for (const s of kv) expect(s).toMatch(/^\$KV\.idempotency-keys\.[0-9a-f]{64}$/);
    expect(seen.map((s) => [s, foreignSubject(s)] as const).filter(([, why]) => why !== null)).toEqual([]);
    expect(seen.filter((s) => s.includes(MARK))).toEqual([]);
  });

  it("would flag a subject built from a hostile id (the check works)", () => {
    const id = "3e9c6d5e-3d0c-4d7a-9f7e-5a0b0c0d0e0f";
    expect(foreignSubject(`orders.3.${id}.ORDER_CREATED`)).toBeNull();
    for (const bad of ["a.b", "*", ">", "x y", "é", `${id}.*`]) {
      expect(foreignSubject(`orders.3.${bad}.ORDER_CREATED`), bad).not.toBeNull();
      expect(foreignSubject(`$JS.API.DIRECT.GET.ORDERS.orders.3.${bad}.ORDER_CREATED`), bad).not.toBeNull();
      expect(foreignSubject(`notifications.${bad}.${id}.ORDER_CREATED`), bad).not.toBeNull();
    }
    expect(foreignSubject(`$KV.order-views.zq7 x`)).not.toBeNull();
  });

  it("does see the subjects of valid requests (the watch works)", async () => {
    seen = [];
    const a = await send(order, "/orders", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ userId: "watched", amount: 4 }),
    });
    expect(a.status).toBe(201);
    const { orderId } = JSON.parse(a.text);
    expect((await send(order, `/orders/${orderId}/events`)).status).toBe(200);
    expect((await send(notification, "/users/watched/notifications")).status).toBe(200);
    await nats.nc.flush();
    expect(seen).toContain(eventSubject(orderId, "ORDER_CREATED"));
    // The order's history: one batch direct get (the order's subject filter travels in the request body).
    expect(seen).toContain("$JS.API.DIRECT.GET.ORDERS");
    expect(seen.some((s) => s.startsWith("$JS.API.STREAM.INFO.NOTIFICATIONS"))).toBe(true);
    expect(seen.map((s) => [s, foreignSubject(s)] as const).filter(([, why]) => why !== null)).toEqual([]);
  });
});
