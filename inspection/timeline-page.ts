/**
 * The order timeline page (`GET /orders/{id}/view`): the order's events in stream order, its trace
 * as a waterfall and its log lines from every service, as one self-contained HTML document — inline
 * CSS, no script, no build step.
 *
 * Pure: data in, string out. Every value that comes from an event, from Jaeger or from the log store
 * goes through the escaping of Hono's `html` tag (hono/html); only the template text itself and numbers computed
 * here are trusted.
 */
import type { StoredEvent } from "../nats/order-history.ts";
import { assertNever, type OrderEvent } from "../shared/events.ts";
// Who publishes which event type has one home: the services' manifests (shared/services.ts).
import { publisherOf } from "../shared/services.ts";
import type { LogLookup } from "./log-query.ts";
import { spanTree } from "./span-tree.ts";
import { spanLabel, type TraceLookup, type TraceSpan } from "./trace-span.ts";

export { publisherOf };
import { html as honoHtml, raw } from "hono/html";
import type { HtmlEscapedString } from "hono/utils/html";

/**
 * What the page's summary shows of the order: the fields of the order service's view
 * (services/order/domain/order.ts `OrderView`), which inspection, a layer below the services, names here.
 */
export interface OrderSummary {
  userId: string;
  amount: number;
  currency: string;
  items: readonly { sku: string; quantity: number; unitPrice: number }[];
  status: string;
  createdAt: string;
  updatedAt: string;
  paymentId?: string;
  shippingId?: string;
  cancelReason?: string;
}

/** Input of {@link renderOrderTimelinePage}. */
export interface OrderTimelinePageInput {
  orderId: string;
  /** The order folded from its events; null when they do not start with ORDER_CREATED. */
  order: OrderSummary | null;
  /** The order's events in stream order. */
  events: StoredEvent[];
  /** The trace lookup, or null when the order's first event carries no traceparent. */
  trace: TraceLookup | null;
  /**
   * The order's log lines from the log store (inspection/log-query.ts), or "not-configured" when the
   * service knows of none (VICTORIA_LOGS_URL unset); no section when absent.
   */
  logs?: LogLookup | "not-configured";
  /** At a site: whether the hub has the order's latest site event (nats/sites.ts); no line when absent. */
  hub?: "waiting" | "received";
}

/** More spans than this are cut off: a page that size is no longer a readable waterfall. */
const MAX_SPANS = 300;
/** More log lines than this are cut off, the same way. */
const MAX_LOG_LINES = 500;
/** Log fields shown in the details column, in this order; the line's time, service, level and message have columns. */
const LOG_DETAIL_FIELDS = ["eventType", "seq", "consumer", "attempt", "durationMs", "err.message", "err.type", "reason", "path"];
/** The four services keep the colours of their event badges; any other service takes the next spare one. */
const KNOWN_SERVICE_COLORS: Record<string, string> = { order: "#2b6cb0", payment: "#2f855a", shipping: "#b7791f", notification: "#6b46c1" };
const SPARE_COLORS = ["#0987a0", "#c05621", "#97266d", "#4a5568"] as const;
const ERROR_COLOR = "#c53030";

/**
 * The whole page.
 * @example c.body(renderOrderTimelinePage({ orderId, order, events, trace }), 200, { "content-type": "text/html; charset=utf-8" })
 */
export function renderOrderTimelinePage(input: OrderTimelinePageInput): string {
  const { orderId, order, events, trace, logs, hub } = input;
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Order ${orderId} · timeline</title>
<style>${raw(CSS)}</style>
</head>
<body>
<header>
  <h1>Order <code>${orderId}</code></h1>
  ${summary(order, trace, hub)}
  <nav>JSON: <a href="${`../${encodeURIComponent(orderId)}`}">order</a> · <a href="./events">events</a> · <a href="./trace">trace</a></nav>
</header>
<main>
<section aria-labelledby="events-title">
  <h2 id="events-title">Events <small>(${events.length}, in stream order)</small></h2>
  ${eventTable(events)}
</section>
<section aria-labelledby="trace-title">
  <h2 id="trace-title">Trace</h2>
  ${traceSection(trace)}
</section>
${
  logs === "not-configured"
    ? html`<section aria-labelledby="logs-title">
  <h2 id="logs-title">Logs</h2>
  <p class="empty">Log lines are not collected centrally here: set VICTORIA_LOGS_URL for the services (npm start and compose do) to ship them to VictoriaLogs, and this page shows the order's lines from every service.</p>
</section>`
    : logs
      ? html`<section aria-labelledby="logs-title">
  <h2 id="logs-title">Logs <small>(${logs.lines ? `${logs.lines.length} line${logs.lines.length === 1 ? "" : "s"}, every service, in time order` : "unavailable"})</small></h2>
  ${logsSection(logs)}
</section>`
      : ""
}
</main>
</body>
</html>
`.toString();
}

// ---------------------------------------------------------------------------------------------
// parts

function summary(order: OrderSummary | null, trace: TraceLookup | null, hub?: "waiting" | "received") {
  if (!order)
    return html`<p class="status">Status <strong class="badge">unknown</strong> — the events do not start with ORDER_CREATED.</p>`;
  const items = order.items.map((item) => html`<li><code>${item.sku}</code> × ${item.quantity} @ ${money(item.unitPrice)}</li>`);
  const rows: [string, ReturnType<typeof html> | string][] = [
    ["User", order.userId],
    ["Amount", `${money(order.amount)} ${order.currency}`],
    ["Created", order.createdAt],
    ["Updated", order.updatedAt],
  ];
  if (order.paymentId) rows.push(["Payment", order.paymentId]);
  if (order.shippingId) rows.push(["Shipment", order.shippingId]);
  if (order.cancelReason) rows.push(["Cancel reason", order.cancelReason]);
  if (trace) rows.push(["Trace", html`<code>${trace.traceId}</code>`]);
  if (hub) {
    rows.push([
      "Hub",
      hub === "waiting"
        ? html`<span class="hub-waiting" data-hub="waiting">waiting for the hub — kept at this site, it goes on when the link is back</span>`
        : html`<span data-hub="received">received</span>`,
    ]);
  }
  return html`<p class="status">Status <strong class="badge status-${order.status.toLowerCase()}" data-status="${order.status}">${order.status}</strong></p>
  <dl class="facts">${rows.map(([k, v]) => html`<dt>${k}</dt><dd>${v}</dd>`)}</dl>
  ${items.length > 0 ? html`<ul class="items">${items}</ul>` : html`<p class="no-items">No items.</p>`}`;
}

function eventTable(events: StoredEvent[]) {
  if (events.length === 0) return html`<p class="empty">No events.</p>`;
  const first = Date.parse(events[0]!.time);
  const rows = events.map((stored, i) => {
    const type = stored.event.eventType;
    const service = publisherOf(type);
    const since = Date.parse(stored.time) - first;
    return html`<tr data-seq="${stored.seq}" data-event-type="${type}">
    <td class="num">${i + 1}</td>
    <td class="num seq">${stored.seq}</td>
    <td><time datetime="${stored.time}">${stored.time}</time></td>
    <td class="num">${Number.isFinite(since) ? `+${since} ms` : ""}</td>
    <td class="type"><code>${type}</code></td>
    <td><span class="svc svc-${service}">${service}</span></td>
    <td>${details(stored.event)}</td>
  </tr>`;
  });
  return html`<table class="events" id="events">
  <thead><tr><th>#</th><th>Seq</th><th>Time (stream)</th><th>Since first</th><th>Event</th><th>Service</th><th>Details</th></tr></thead>
  <tbody>
  ${rows}
  </tbody>
</table>`;
}

function details(event: OrderEvent) {
  switch (event.eventType) {
    case "ORDER_CREATED":
      return html`${money(event.amount)} ${event.currency}, ${event.items.length} item(s)${event.items.length > 0 ? ": " : ""}${event.items.map(
        (item, i) => html`${i > 0 ? ", " : ""}<code>${item.sku}</code> × ${item.quantity}`,
      )}`;
    case "PAYMENT_COMPLETED":
      return html`payment <code>${event.paymentId}</code>, ${money(event.amount)} ${event.currency}`;
    case "PAYMENT_FAILED":
      return html`${event.reason}`;
    case "SHIPPING_READY":
      return html`shipment <code>${event.shippingId}</code>`;
    case "SHIPPING_FAILED":
      return html`${event.reason}${event.unavailableSkus.length > 0 ? html` (unavailable: ${event.unavailableSkus.map((sku, i) => html`${i > 0 ? ", " : ""}<code>${sku}</code>`)})` : ""}`;
    case "ORDER_CANCEL_REQUESTED":
      return html`the customer asked to cancel`;
    case "PAYMENT_REFUNDED":
      return html`payment <code>${event.paymentId}</code> refunded, ${money(event.amount)} ${event.currency} (${event.reason})`;
    case "ORDER_CANCELLED":
      return html`${event.cancelReason}`;
    default:
      return assertNever(event);
  }
}

function traceSection(trace: TraceLookup | null) {
  if (!trace) return html`<p class="warning" role="status">No trace: the order's first event carries no traceparent header.</p>`;
  const spans = trace.spans;
  const warning = trace.warning ? html`<p class="warning" role="status">${spans ? "Note: " : "No waterfall: "}${trace.warning}</p>` : "";
  const body = spans && spans.length > 0 ? waterfall(spans) : spans ? html`<p class="empty">Jaeger returned no spans.</p>` : "";
  return html`${warning}${body}<p class="jaeger">${jaegerLink(trace)}</p>`;
}

function jaegerLink(trace: TraceLookup) {
  const label = html`Open trace <code>${trace.traceId}</code> in Jaeger`;
  // Only http(s) becomes a link: a misconfigured base URL must not turn into a javascript: href.
  return /^https?:\/\//i.test(trace.jaegerUrl)
    ? html`<a class="jaeger-link" href="${trace.jaegerUrl}" rel="noreferrer">${label}</a>`
    : html`${label}: ${trace.jaegerUrl}`;
}

function logsSection(logs: LogLookup) {
  const ui = /^https?:\/\//i.test(logs.uiUrl)
    ? html`<p class="logs-ui">Query in <a class="logs-link" href="${logs.uiUrl}" rel="noreferrer">VictoriaLogs</a>: <code>${logs.query}</code></p>`
    : html`<p class="logs-ui">Query: <code>${logs.query}</code></p>`;
  if (!logs.lines) return html`<p class="warning" role="status">No logs: ${logs.warning ?? "the log store gave no answer."}</p>${ui}`;
  if (logs.lines.length === 0) {
    return html`<p class="empty">The log store has no lines for this order (yet: lines are shipped about once a second, and only by services with VICTORIA_LOGS_URL set).</p>${ui}`;
  }
  const lines = logs.lines.slice(0, MAX_LOG_LINES);
  const first = Date.parse(lines[0]!.time);
  const rows = lines.map((line) => {
    const since = Date.parse(line.time) - first;
    const service = line.service.replace(/-service$/, "");
    const known = service in KNOWN_SERVICE_COLORS;
    const details = LOG_DETAIL_FIELDS.filter((k) => line.fields[k] !== undefined && line.fields[k] !== "").map(
      (k, i) => html`${i > 0 ? " " : ""}<span class="field">${k}=<code>${line.fields[k]}</code></span>`,
    );
    const spanId = line.fields.span_id;
    const trace = line.fields.trace_id
      ? html` <span class="field">trace <code>${line.fields.trace_id.slice(0, 8)}…</code>${spanId ? html` span <a href="${`#span-${spanId}`}"><code>${spanId}</code></a>` : ""}</span>`
      : "";
    return html`<tr class="level-${line.level}" data-service="${line.service}">
    <td><time datetime="${line.time}">${Number.isFinite(Date.parse(line.time)) ? new Date(Date.parse(line.time)).toISOString() : line.time}</time></td>
    <td class="num">${Number.isFinite(since) ? `+${since} ms` : ""}</td>
    <td><span class="${known ? `svc svc-${service}` : "svc svc-other"}">${line.service}</span></td>
    <td class="level">${line.level}</td>
    <td class="msg">${line.msg}</td>
    <td class="details">${details}${trace}</td>
  </tr>`;
  });
  const cut =
    logs.lines.length > lines.length ? html`<p class="warning">Showing the first ${lines.length} of ${logs.lines.length} lines.</p>` : "";
  return html`<table class="events logs" id="logs">
  <thead><tr><th>Time</th><th>Since first</th><th>Service</th><th>Level</th><th>Message</th><th>Details</th></tr></thead>
  <tbody>
  ${rows}
  </tbody>
</table>${cut}${ui}`;
}

function waterfall(all: TraceSpan[]) {
  const spans = all.slice(0, MAX_SPANS);
  const { rows, durationUs } = spanTree(spans);
  const total = Math.max(durationUs, 1);
  const colors = new Map<string, string>();
  let spare = 0;
  for (const { span } of rows) {
    if (colors.has(span.service)) continue;
    const known = KNOWN_SERVICE_COLORS[span.service.replace(/-service$/, "")];
    colors.set(span.service, known ?? SPARE_COLORS[spare++ % SPARE_COLORS.length]!);
  }
  const pct = (us: number) => `${((us / total) * 100).toFixed(3)}%`;
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => html`<span class="tick" style="left:${(f * 100).toFixed(0)}%">${ms(f * total)}</span>`);
  const lines = rows.map(({ span, depth, offsetUs: offset }) => {
    const color = span.status === "error" ? ERROR_COLOR : colors.get(span.service)!;
    return html`<div class="span status-${span.status}" id="${`span-${span.spanId}`}" data-span-id="${span.spanId}">
    <div class="label" style="padding-left:${(depth * 0.9).toFixed(1)}em" title="${span.service}: ${span.operation}"><span class="svc-name" style="color:${color}">${span.service}</span> <span class="op">${spanLabel(span)}</span>${span.kind ? html` <span class="kind">${span.kind}</span>` : ""}</div>
    <div class="lane"><div class="bar" style="left:${pct(offset)};width:${pct(span.durationUs)};background:${color}"></div></div>
    <div class="num">${ms(offset)}</div>
    <div class="num">${ms(span.durationUs)}</div>
    <div class="st">${span.status}</div>
  </div>`;
  });
  const cut = all.length > spans.length ? html`<p class="warning">Showing the first ${spans.length} of ${all.length} spans.</p>` : "";
  return html`<div class="waterfall" id="waterfall">
  <div class="span head"><div class="label">Service · operation (${spans.length} spans)</div><div class="lane axis">${ticks}</div><div class="num">Offset</div><div class="num">Duration</div><div class="st">Status</div></div>
  ${lines}
</div>${cut}`;
}

function money(n: number): string {
  return n.toFixed(2);
}

function ms(us: number): string {
  const value = us / 1000;
  return `${value < 10 ? value.toFixed(2) : value < 100 ? value.toFixed(1) : value.toFixed(0)} ms`;
}

// ---------------------------------------------------------------------------------------------
// escaping

/** A value the page interpolates: text and numbers (escaped), markup built by {@link html}, lists of them. */
type Part = HtmlEscapedString | string | number | boolean | null | undefined | readonly Part[];

/**
 * Hono's `html` tag (hono/html): the literal text is markup, every interpolated string is escaped
 * (`& < > " '`) unless it is markup built by the tag itself (or `raw`). Typed to take no promise,
 * so it answers synchronously; the check keeps that true if someone passes one anyway.
 */
function html(strings: TemplateStringsArray, ...values: Part[]): HtmlEscapedString {
  const out = honoHtml(strings, ...values);
  if (out instanceof Promise) throw new TypeError("timeline-page: a part of the page is a Promise; render only resolved values");
  return out;
}

const CSS = `
:root { color-scheme: light; font-family: system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; color: #1a202c; background: #f7fafc; }
body { margin: 0 auto; padding: 1.2em 1.5em 3em; max-width: 1200px; }
h1 { font-size: 1.5em; margin: 0 0 .4em; } h2 { font-size: 1.15em; margin: 1.6em 0 .5em; } h2 small { font-weight: normal; color: #718096; }
code { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, monospace; font-size: .92em; }
header { background: #fff; border: 1px solid #e2e8f0; border-radius: 8px; padding: 1em 1.2em; }
nav { margin-top: .6em; font-size: .9em; color: #718096; }
a { color: #2b6cb0; }
.status { margin: .2em 0 .6em; }
.badge { display: inline-block; padding: .1em .6em; border-radius: 999px; background: #e2e8f0; font-size: .9em; letter-spacing: .02em; }
.status-created { background: #bee3f8; } .status-paid { background: #fefcbf; } .status-shipping_ready { background: #c6f6d5; } .status-cancelled { background: #fed7d7; }
.facts { display: grid; grid-template-columns: max-content 1fr; gap: .15em 1em; margin: 0; font-size: .92em; }
.facts dt { color: #718096; } .facts dd { margin: 0; }
.items { margin: .5em 0 0; padding-left: 1.2em; font-size: .92em; } .no-items { margin: .5em 0 0; font-size: .92em; color: #718096; }
table.events { width: 100%; border-collapse: collapse; background: #fff; border: 1px solid #e2e8f0; font-size: .92em; }
table.events th, table.events td { text-align: left; padding: .45em .7em; border-bottom: 1px solid #edf2f7; vertical-align: top; }
table.events th { background: #edf2f7; font-weight: 600; }
.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
table.events td.num { text-align: right; }
.type code { font-weight: 600; }
.svc { display: inline-block; padding: 0 .5em; border-radius: 4px; color: #fff; font-size: .85em; }
.svc-order { background: ${KNOWN_SERVICE_COLORS.order}; } .svc-payment { background: ${KNOWN_SERVICE_COLORS.payment}; } .svc-shipping { background: ${KNOWN_SERVICE_COLORS.shipping}; }
.svc-notification { background: ${KNOWN_SERVICE_COLORS.notification}; } .svc-other { background: ${SPARE_COLORS[3]}; }
table.logs { font-size: .85em; } table.logs td.msg { font-weight: 600; } table.logs .field { white-space: nowrap; color: #4a5568; }
table.logs tr.level-warn td.level { color: #c05621; font-weight: 600; } table.logs tr.level-error td.level, table.logs tr.level-fatal td.level { color: ${ERROR_COLOR}; font-weight: 600; }
.logs-ui { margin-top: .6em; font-size: .9em; color: #718096; }
.warning { background: #fffaf0; border: 1px solid #f6ad55; border-radius: 6px; padding: .6em .9em; color: #7b341e; }
.empty { color: #718096; }
.waterfall { background: #fff; border: 1px solid #e2e8f0; font-size: .85em; }
.waterfall .span { display: grid; grid-template-columns: minmax(16em, 34%) 1fr 5.5em 5.5em 4em; gap: .6em; align-items: center; padding: .22em .6em; border-bottom: 1px solid #f1f4f8; }
.waterfall .head { background: #edf2f7; font-weight: 600; padding-top: .5em; padding-bottom: 1.3em; }
.label { white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.svc-name { font-weight: 600; } .kind { color: #a0aec0; font-size: .9em; }
.lane { position: relative; height: 1em; background: repeating-linear-gradient(90deg, transparent 0 calc(25% - 1px), #edf2f7 calc(25% - 1px) 25%); }
.lane.axis { background: none; height: 1em; }
.tick { position: absolute; top: 0; transform: translateX(-50%); font-weight: normal; color: #718096; font-size: .85em; white-space: nowrap; }
.tick:first-child { transform: none; } .tick:last-child { transform: translateX(-100%); }
.bar { position: absolute; top: 0; bottom: 0; min-width: 2px; border-radius: 2px; }
.status-error .st { color: ${ERROR_COLOR}; font-weight: 600; } .status-ok .st { color: #2f855a; } .status-unset .st { color: #a0aec0; }
.jaeger { margin-top: .8em; }
`;
