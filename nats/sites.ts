/**
 * The link between a site and its hub (README "Sites", docs/design.md "Sites"). Each side's ORDERS
 * sources the other's through a durable push consumer at the origin (ack policy `flow_control`):
 *
 * - forward: the site's consumer SITE_FORWARD_CONSUMER, filtered to the event types a site
 *   originates, is sourced by the hub's ORDERS (`external.api` `$JS.<site>.API`);
 * - return: the hub's consumer `to-site-<site>`, filtered to what the hub decides on that site's
 *   orders, is sourced by the site's ORDERS (`external.api` `$JS.<hub>.API`).
 *
 * A durable consumer, not the default ephemeral source: after an outage the ephemeral source waits
 * out the server's retry backoff (40 s and more on nats-server 2.15), while the durable one resumes
 * as soon as its heartbeats cross the link again (docs/design.md "Sites", measured). Sourcing keeps
 * each origin's order; it drops the `Nats-Expected-*` headers (the exactly-once guard is enforced
 * once, where the event is published) and keeps `Nats-Msg-Id` (deduplicated in the window) and the
 * trace headers.
 *
 * Who sets up what: a site's order service makes its forward consumer and its stream's source; the
 * hub's services (SITES) make a return consumer and a stream source per site. The server accepts a
 * source whose origin is not reachable yet and starts it when it is.
 */
import {
  AckPolicy,
  DeliverPolicy,
  JetStreamApiError,
  jetstreamManager,
  type ConsumerConfig,
  type JetStreamManager,
  type StreamSource,
} from "@nats-io/jetstream";
import { nanos, type NatsConnection } from "@nats-io/transport-node";
import type { Topology } from "../shared/config.ts";
import {
  jetStreamApiOf,
  ORDERS_STREAM,
  SITE_FORWARD_CONSUMER,
  SITE_ORIGIN_TYPES,
  siteForwardDeliverSubject,
  siteForwardFilters,
  siteReturnConsumer,
  siteReturnDeliverSubject,
  siteReturnFilters,
} from "./subjects.ts";
import type { StoredEvent } from "./order-history.ts";
import { StreamUpdateRaceError } from "./setup.ts";

/**
 * Events a sourcing consumer sends ahead of the flow control that acknowledges them: what one round
 * trip over the link can carry. A 1,000-order backlog fits in one window.
 */
export const SITE_LINK_MAX_ACK_PENDING = 10_000;
/** The heartbeat nats-server requires of a flow-control consumer (it refuses any other). */
const FLOW_CONTROL_HEARTBEAT_MS = 1_000;

const CONSUMER_NOT_FOUND = 10014;

type SourcingConsumerConfig = Partial<ConsumerConfig> & { durable_name: string; deliver_subject: string; filter_subjects: string[] };

function sourcingConsumer(name: string, deliverSubject: string, filters: string[], description: string): SourcingConsumerConfig {
  return {
    durable_name: name,
    description,
    deliver_subject: deliverSubject,
    deliver_policy: DeliverPolicy.All,
    ack_policy: AckPolicy.FlowControl,
    flow_control: true,
    idle_heartbeat: nanos(FLOW_CONTROL_HEARTBEAT_MS),
    max_ack_pending: SITE_LINK_MAX_ACK_PENDING,
    filter_subjects: filters,
  };
}

/** At a site: what the hub's ORDERS sources from this site's. */
export function forwardConsumerConfig(site: string): SourcingConsumerConfig {
  return sourcingConsumer(
    SITE_FORWARD_CONSUMER,
    siteForwardDeliverSubject(site),
    siteForwardFilters(site),
    `site ${site}: its orders, for the hub`,
  );
}

/** At the hub: what one site's ORDERS sources from the hub's. */
export function returnConsumerConfig(site: string): SourcingConsumerConfig {
  return sourcingConsumer(
    siteReturnConsumer(site),
    siteReturnDeliverSubject(site),
    siteReturnFilters(site),
    `hub: decisions on site ${site}'s orders`,
  );
}

/** The hub's ORDERS source of one site. */
export function hubSourceOf(site: string): StreamSource {
  return {
    name: ORDERS_STREAM,
    external: { api: jetStreamApiOf(site), deliver: "" },
    consumer: { name: SITE_FORWARD_CONSUMER, deliver_subject: siteForwardDeliverSubject(site) },
  };
}

/** A site's ORDERS source: the hub's decisions on its orders. */
export function siteSourceOf(site: string, hubDomain: string): StreamSource {
  return {
    name: ORDERS_STREAM,
    external: { api: jetStreamApiOf(hubDomain), deliver: "" },
    consumer: { name: siteReturnConsumer(site), deliver_subject: siteReturnDeliverSubject(site) },
  };
}

function sameSource(a: StreamSource, b: StreamSource): boolean {
  return a.name === b.name && a.external?.api === b.external?.api && a.consumer?.name === b.consumer?.name;
}

/** Adds a sourcing consumer unless it exists (its position is never reset); filters are brought up to date in place. */
async function ensureSourcingConsumer(jsm: JetStreamManager, config: SourcingConsumerConfig): Promise<void> {
  try {
    const existing = await jsm.consumers.info(ORDERS_STREAM, config.durable_name);
    const filters = existing.config.filter_subjects ?? (existing.config.filter_subject ? [existing.config.filter_subject] : []);
    if (JSON.stringify([...filters].sort()) !== JSON.stringify([...config.filter_subjects].sort())) {
      await jsm.consumers.update(ORDERS_STREAM, config.durable_name, { filter_subjects: config.filter_subjects });
    }
    return;
  } catch (err) {
    if (!(err instanceof JetStreamApiError && err.code === CONSUMER_NOT_FOUND)) throw err;
  }
  try {
    await jsm.consumers.add(ORDERS_STREAM, config);
  } catch (err) {
    // Another instance made it first.
    await jsm.consumers.info(ORDERS_STREAM, config.durable_name).catch(() => Promise.reject(err));
  }
}

/**
 * Adds the sources ORDERS lacks (never removes one: taking a site away is an operator's decision,
 * docs/operations.md "Sites"), re-reading after each update so that instances racing keep each
 * other's changes.
 */
export async function ensureSources(jsm: JetStreamManager, wanted: StreamSource[]): Promise<void> {
  for (let attempt = 1; attempt <= 5; attempt++) {
    const { config } = await jsm.streams.info(ORDERS_STREAM);
    const have = config.sources ?? [];
    const missing = wanted.filter((w) => !have.some((h) => sameSource(h, w)));
    if (missing.length === 0) return;
    await jsm.streams.update(ORDERS_STREAM, { ...config, sources: [...have, ...missing] });
  }
  throw new StreamUpdateRaceError(ORDERS_STREAM, "add the site sources");
}

/** Sets up this side of every site link the topology names (nothing for a single site). */
export async function ensureSiteLinks(jsm: JetStreamManager, topology: Topology): Promise<void> {
  switch (topology.kind) {
    case "single":
      return;
    case "site":
      await ensureSourcingConsumer(jsm, forwardConsumerConfig(topology.site));
      await ensureSources(jsm, [siteSourceOf(topology.site, topology.hubDomain)]);
      return;
    case "hub":
      // Consumers first: a site's source resets its consumer here as soon as it can reach it.
      for (const site of topology.sites) await ensureSourcingConsumer(jsm, returnConsumerConfig(site));
      await ensureSources(jsm, topology.sites.map(hubSourceOf));
      return;
  }
}

/** What a site knows of its link to the hub. */
export interface HubLinkState {
  /** The hub's JetStream answered the last probe through the leaf link. */
  up: boolean;
  /** Events stored here that the hub has not confirmed yet (forward consumer: pending + unacknowledged); null until read. */
  pendingEvents: number | null;
  /** Up to which ORDERS sequence the hub has confirmed this site's events. */
  confirmedSeq: number;
  /** When `up` last changed (ms since the epoch). */
  since: number;
}

export interface HubLink {
  state(): HubLinkState;
  /**
   * Whether the hub has every event this site originated for the order (`received`) or not yet
   * (`waiting`): the forward consumer's acknowledged floor against the order's last such event.
   */
  hubStatus(events: readonly StoredEvent[]): Promise<"waiting" | "received">;
  stop(): void;
}

export interface HubLinkOptions {
  nc: NatsConnection;
  jsm: JetStreamManager;
  hubDomain: string;
  /** Probe period (default 2 s) and how long one probe may take (default 1.5 s). */
  intervalMs?: number;
  timeoutMs?: number;
  onChange?(state: HubLinkState): void;
}

/** A floor read this recently answers `hubStatus` without asking the server again. */
const FLOOR_MAX_AGE_MS = 250;

/**
 * Watches the link from a site: every `intervalMs`, a JetStream API request to the hub's domain (it
 * crosses the leaf link; with the link down the server answers "no responders" at once) and the
 * forward consumer's info (local). Local reads only otherwise: the site's readiness never waits on it.
 */
export async function watchHubLink(opts: HubLinkOptions): Promise<HubLink> {
  const intervalMs = opts.intervalMs ?? 2_000;
  const timeout = opts.timeoutMs ?? 1_500;
  const hub = await jetstreamManager(opts.nc, { domain: opts.hubDomain, timeout, checkAPI: false });
  const state: HubLinkState = { up: false, pendingEvents: null, confirmedSeq: 0, since: Date.now() };
  let floorAt = 0;
  let stopped = false;

  const readForward = async (): Promise<void> => {
    const info = await opts.jsm.consumers.info(ORDERS_STREAM, SITE_FORWARD_CONSUMER);
    state.pendingEvents = info.num_pending + info.num_ack_pending;
    state.confirmedSeq = info.ack_floor.stream_seq;
    floorAt = Date.now();
  };
  const probe = async (first = false): Promise<void> => {
    const up = await hub.getAccountInfo().then(
      () => true,
      () => false,
    );
    await readForward().catch(() => {});
    if (up !== state.up || first) {
      state.up = up;
      state.since = Date.now();
      opts.onChange?.({ ...state });
    }
  };
  await probe(true);
  const timer = setInterval(() => {
    if (!stopped) void probe();
  }, intervalMs);

  return {
    state: () => ({ ...state }),
    async hubStatus(events) {
      let last = 0;
      let lastType: string | undefined;
      let fromHub = false;
      for (const e of events) {
        if (!SITE_ORIGIN_TYPES.includes(e.event.eventType)) fromHub = true;
        else if (e.seq > last) [last, lastType] = [e.seq, e.event.eventType];
      }
      // The hub decides nothing on an order before it has its ORDER_CREATED: a decision of the hub
      // here proves it, before the flow control that moves the consumer's floor comes round (≤ 1 s).
      if (last <= state.confirmedSeq || (lastType === "ORDER_CREATED" && fromHub)) return "received";
      if (Date.now() - floorAt > FLOOR_MAX_AGE_MS) await readForward().catch(() => {});
      return last <= state.confirmedSeq ? "received" : "waiting";
    },
    stop() {
      stopped = true;
      clearInterval(timer);
    },
  };
}
