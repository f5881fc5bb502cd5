/**
 * The registered services, and every table derived from their manifests (shared/service-manifest.ts):
 * what configuration, NATS names and permissions, logs and entries all key on. A service is added by
 * its folder's `manifest.ts` and one line here (and its definition in services/registry.ts, which the
 * type `ServiceName` makes the compiler ask for); docs/add-a-subscriber.md has the recipe.
 *
 * The manifests are data of this bottom layer that live in the services' folders
 * (scripts/check-layers.ts counts `services/<name>/manifest.ts` as shared/).
 */
import type { EventType } from "./events.ts";
import { checkManifests, type ServiceManifest } from "./service-manifest.ts";
import { orderManifest } from "../services/order/manifest.ts";
import { paymentManifest } from "../services/payment/manifest.ts";
import { shippingManifest } from "../services/shipping/manifest.ts";
import { notificationManifest } from "../services/notification/manifest.ts";
import { loyaltyManifest } from "../services/loyalty/manifest.ts";

const REGISTERED = [orderManifest, paymentManifest, shippingManifest, notificationManifest, loyaltyManifest] as const;

/** Every registered service's manifest, in registration order (the order npm start starts them). */
export const SERVICE_MANIFESTS: readonly ServiceManifest<ServiceName>[] = checkManifests(REGISTERED);

export type ServiceName = (typeof REGISTERED)[number]["name"];

/** Every registered service by name: auth users, `npm run service`, the CLI's replay by service. */
export const SERVICES: readonly ServiceName[] = SERVICE_MANIFESTS.map((m) => m.name);

/**
 * The services `npm start`, compose and the tests' systems run when not told otherwise: all but the
 * opt-in ones (manifest `optIn`).
 */
export const DEFAULT_SERVICES: readonly ServiceName[] = SERVICE_MANIFESTS.filter((m) => !m.optIn).map((m) => m.name);

export function isServiceName(name: string): name is ServiceName {
  return (SERVICES as readonly string[]).includes(name);
}

function byName<T>(pick: (m: ServiceManifest<ServiceName>) => T): Record<ServiceName, T> {
  return Object.fromEntries(SERVICE_MANIFESTS.map((m) => [m.name, pick(m)])) as Record<ServiceName, T>;
}

/** The manifest of one service. */
export function manifestOf(name: ServiceName): ServiceManifest<ServiceName> {
  return SERVICE_MANIFESTS.find((m) => m.name === name)!;
}

/** Each service's port when PORT is unset. */
export const DEFAULT_PORTS: Record<ServiceName, number> = byName((m) => m.port);

/**
 * The event types each service is delivered: the ones its decisions depend on. Its own outcomes are
 * not among them (payment learns PAYMENT_COMPLETED from its own publish), so a happy order costs
 * payment one delivery, shipping two and notification three; the order service acts on none of a
 * happy order's events (its view is folded from the stream when asked for).
 */
export const CONSUMED_EVENT_TYPES: Record<ServiceName, readonly EventType[]> = byName((m) => m.consumes);

/**
 * The event types each service publishes (its domain's decisions: services/<name>/domain/), and
 * the only ones its NATS user may publish: nobody else can forge them.
 */
export const PUBLISHED_EVENT_TYPES: Record<ServiceName, readonly EventType[]> = byName((m) => m.publishes);

/**
 * The service that publishes `eventType`.
 * @example publisherOf("PAYMENT_REFUNDED") // "payment"
 */
export function publisherOf(eventType: EventType): ServiceName {
  const manifest = SERVICE_MANIFESTS.find((m) => m.publishes.includes(eventType));
  if (!manifest) throw new Error(`no registered service publishes ${eventType}`);
  return manifest.name;
}
