/**
 * What a service is, as data: the one description of it that the shared tables are derived from
 * (shared/services.ts: the service list, default ports, who consumes and who publishes which event
 * type; nats/auth/auth-config.ts: its NATS user). Each service exports one from its own folder
 * (`services/<name>/manifest.ts`); docs/add-a-subscriber.md shows the steps.
 *
 * A manifest is pure data of the bottom layer (it may import only shared/), so every layer can
 * read it; the service's code (handlers, routes) stays in its `service.ts`, above the host.
 */
import type { EventType } from "./events.ts";

export interface ServiceManifest<Name extends string = string> {
  /** Lower-case letters: the key of its config, NATS user, consumers (`<name>-pNN`), logs and `<name>-service` spans. */
  name: Name;
  /** Its HTTP port when PORT is unset. */
  port: number;
  /** The event types its partition consumers are delivered: the ones its decisions depend on. */
  consumes: readonly EventType[];
  /** The event types it publishes on ORDERS; its NATS user may publish these and no other. */
  publishes: readonly EventType[];
  /**
   * True for a service `npm start` runs only when asked (`npm start -- --with <name>`); compose
   * puts it under a profile of its name. The others are the system every test and benchmark runs.
   */
  optIn?: boolean;
  /** NATS resources of its own, by their keys in nats/subjects.ts, that its user may read and write. */
  nats?: {
    /** Keys of `BUCKETS`: KV buckets it creates, reads and writes whole. */
    buckets?: readonly string[];
    /** Keys of `SERVICE_STREAMS`: streams it writes to and reads back (direct gets, short-lived consumers). */
    streams?: readonly string[];
  };
}

/** Thrown at start-up for a manifest that breaks a rule the derived tables rely on. */
export class ServiceManifestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ServiceManifestError";
  }
}

/**
 * A service's manifest, with its name kept as a literal type (what `ServiceName` is made of).
 * @example export const loyaltyManifest = defineService({ name: "loyalty", port: 3004, consumes: ["PAYMENT_COMPLETED"], publishes: [] });
 */
export function defineService<const Name extends string>(manifest: ServiceManifest<Name>): ServiceManifest<Name> {
  return manifest;
}

/**
 * Checks the rules across all manifests: names are lower-case words (they become NATS tokens and
 * env var prefixes), names and ports unique, every event type published by one service at most.
 * Returns the manifests; throws ServiceManifestError naming the first broken rule.
 */
export function checkManifests<M extends ServiceManifest>(manifests: readonly M[]): readonly M[] {
  const names = new Set<string>();
  const ports = new Map<number, string>();
  const publishers = new Map<string, string>();
  for (const m of manifests) {
    if (!/^[a-z][a-z0-9]*$/.test(m.name)) {
      throw new ServiceManifestError(`service name ${JSON.stringify(m.name)}: use lower-case letters and digits, a letter first`);
    }
    if (names.has(m.name)) throw new ServiceManifestError(`service ${m.name} is registered twice`);
    names.add(m.name);
    const taken = ports.get(m.port);
    if (taken) throw new ServiceManifestError(`services ${taken} and ${m.name} both default to port ${m.port}: give ${m.name} another`);
    ports.set(m.port, m.name);
    for (const type of m.publishes) {
      const other = publishers.get(type);
      if (other) throw new ServiceManifestError(`${type} is published by both ${other} and ${m.name}: an event type has one publisher`);
      publishers.set(type, m.name);
    }
  }
  return manifests;
}
