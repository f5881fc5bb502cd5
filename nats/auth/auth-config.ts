/**
 * Least-privilege NATS users, one per service plus `admin` for the CLI, rendered as a nats-server
 * config (`nats/auth/nats-server.auth.conf`). The permission lists are derived from the same
 * names the code uses (streams, consumers, buckets, subjects), so they cannot drift apart; a unit
 * test checks the checked-in file is exactly what this renders. Regenerate with
 *
 *   node --import tsx nats/auth/auth-config.ts > nats/auth/nats-server.auth.conf
 *
 * Passwords are never in the file: each is a `$<SERVICE>_NATS_PASSWORD` variable reference, which
 * nats-server resolves from its own environment at start-up (a missing variable is a config error,
 * so the server fails closed). The server parses the value as config, so `12345`, `true`, `1k` or
 * one with a space are rejected at start-up: start with a letter. A bcrypt hash works when quoted
 * inside the value (`"$2a$11$…"`; unquoted, its `$` reads as another variable reference).
 *
 * nats-server permissions match whole tokens only (`*` one token, `>` the rest): `payment-p*` is a
 * literal, not a prefix. So each service's lane consumers are listed by name rather than
 * granting `*` on the ORDERS consumers (which would let payment read or ack shipping's messages).
 */
import {
  ADVISORIES_STREAM,
  ADVISORY_CONSUMER,
  BUCKETS,
  consumerNames,
  DEAD_LETTER_SUBJECTS,
  DLQ_STREAM,
  dlqRetryConsumer,
  TRACE_KEEP_SUBJECT,
  NOTIFICATIONS_STREAM,
  ORDERS_STREAM,
  ownResourcesOf,
  PARTITIONS,
  partitionConsumerNames,
  PUBLISHED_EVENT_TYPES,
  SERVICES,
  type ServiceName,
} from "../subjects.ts";
import { inboxPrefixOf } from "../connect.ts";

/** The user name of a service, and the environment variable holding its password. */
export function natsUserOf(service: ServiceName): { user: string; passwordVar: string } {
  return { user: service, passwordVar: `${service.toUpperCase()}_NATS_PASSWORD` };
}
export const ADMIN = { user: "admin", passwordVar: "ADMIN_NATS_PASSWORD" } as const;

const API = "$JS.API";

/** A durable consumer this service creates, binds, pulls from and acks. */
function durable(stream: string, name: string): string[] {
  return [
    `${API}.CONSUMER.INFO.${stream}.${name}`,
    // The create API may carry a single filter subject as extra tokens: `CREATE.<stream>.<name>.<filter>`.
    `${API}.CONSUMER.CREATE.${stream}.${name}`,
    `${API}.CONSUMER.CREATE.${stream}.${name}.>`,
    // nats.js creates a consumer with several filters through the durable form of the API.
    `${API}.CONSUMER.DURABLE.CREATE.${stream}.${name}`,
    `${API}.CONSUMER.MSG.NEXT.${stream}.${name}`,
    // Handing the partition over: releasing its pin.
    `${API}.CONSUMER.UNPIN.${stream}.${name}`,
    // Acks (and naks, +WPI, +TERM) go to the reply subject of the delivery: the v1 form, and the
    // v2 form (`$JS.ACK.<domain>.<account hash>.<stream>.…`) newer servers may use.
    `$JS.ACK.${stream}.${name}.>`,
    `$JS.ACK.*.*.${stream}.${name}.>`,
  ];
}

/** A stream this service makes sure exists (info, then create when missing). */
function ensured(stream: string): string[] {
  return [`${API}.STREAM.INFO.${stream}`, `${API}.STREAM.CREATE.${stream}`];
}

/** Subjects a service may publish to (JetStream API requests are publishes too). */
export function publishAllow(service: ServiceName): string[] {
  const allow: string[] = [];
  // Its own events, and nothing else on ORDERS.
  for (const type of PUBLISHED_EVENT_TYPES[service]) allow.push(`orders.*.*.${type}`);
  // Its own streams' subjects and its own buckets (its manifest's `nats`).
  const own = ownResourcesOf(service);
  for (const stream of own.streams) allow.push(stream.subjects);
  // Account info (jetstreamManager) and the streams every instance ensures at start-up.
  allow.push(`${API}.INFO`);
  for (const stream of [ORDERS_STREAM, NOTIFICATIONS_STREAM, DLQ_STREAM, ADVISORIES_STREAM]) allow.push(...ensured(stream));
  // Its lane consumers on ORDERS; and the per-partition ones of earlier versions, which the first
  // start reads the floors of and deletes (nats/setup.ts).
  // Every lane there can be (LANES up to one per partition), so any lane count runs under this config.
  for (const name of consumerNames(service, PARTITIONS)) allow.push(...durable(ORDERS_STREAM, name));
  for (const name of partitionConsumerNames(service))
    allow.push(`${API}.CONSUMER.INFO.${ORDERS_STREAM}.${name}`, `${API}.CONSUMER.DELETE.${ORDERS_STREAM}.${name}`);
  // Reading ORDERS: direct gets (an order's history, a partition stretch on taking over, a duplicate's
  // stored copy) and message gets (the leader's, on a replicated stream; DLQ retry, advisories).
  allow.push(`${API}.DIRECT.GET.${ORDERS_STREAM}`, `${API}.DIRECT.GET.${ORDERS_STREAM}.>`, `${API}.STREAM.MSG.GET.${ORDERS_STREAM}`);
  // The instances bucket: its own service's heartbeats, and a watch of them (an ordered consumer).
  const instances = `KV_${BUCKETS.instances}`;
  allow.push(...ensured(instances), `$KV.${BUCKETS.instances}.${service}.>`);
  allow.push(
    `${API}.CONSUMER.CREATE.${instances}.>`,
    `${API}.CONSUMER.INFO.${instances}.*`,
    `${API}.CONSUMER.DELETE.${instances}.*`,
    `${API}.CONSUMER.MSG.NEXT.${instances}.*`,
  );
  // Crash suspects: its own service's keys (`<service>.<lane>.<seq>`), read by direct get.
  const suspects = `KV_${BUCKETS.crashSuspects}`;
  allow.push(
    ...ensured(suspects),
    `$KV.${BUCKETS.crashSuspects}.${service}.>`,
    `${API}.DIRECT.GET.${suspects}.$KV.${BUCKETS.crashSuspects}.${service}.>`,
    `${API}.STREAM.MSG.GET.${suspects}`,
  );
  // Dead letters: any instance turns a MAX_DELIVERIES advisory into a dead letter, whichever
  // consumer it names, so DEAD_LETTER_SUBJECTS (`dlq.orders.*.*`) is shared (a forged dead letter
  // only makes a service re-read the original from ORDERS by sequence, which its per-order fence
  // makes a no-op).
  allow.push(DEAD_LETTER_SUBJECTS);
  allow.push(...durable(ADVISORIES_STREAM, ADVISORY_CONSUMER));
  allow.push(...durable(DLQ_STREAM, dlqRetryConsumer(service)));
  allow.push(`${API}.STREAM.MSG.GET.${DLQ_STREAM}`, `${API}.STREAM.MSG.DELETE.${DLQ_STREAM}`);
  // The traces the outcome sampling policy keeps, announced to every instance (nats/trace-keeping.ts).
  allow.push(TRACE_KEEP_SUBJECT);
  // Its KV buckets: the bucket stream, reads (direct or message get) and writes.
  for (const bucket of own.buckets) {
    allow.push(...ensured(`KV_${bucket}`));
    allow.push(`${API}.DIRECT.GET.KV_${bucket}.>`, `${API}.STREAM.MSG.GET.KV_${bucket}`, `$KV.${bucket}.>`);
  }
  for (const { name } of own.streams) {
    // Reading its records back by subject (the notification service: whether one is recorded
    // already, before a webhook is POSTed again).
    allow.push(`${API}.DIRECT.GET.${name}.>`);
    // Listing them with short-lived ordered consumers (random names): GET /users/{id}/notifications.
    allow.push(
      `${API}.CONSUMER.CREATE.${name}.>`,
      `${API}.CONSUMER.INFO.${name}.*`,
      `${API}.CONSUMER.DELETE.${name}.*`,
      `${API}.CONSUMER.MSG.NEXT.${name}.*`,
    );
  }
  return allow;
}

/** Subjects a service may subscribe to: replies to its own inbox prefix, and the kept traces' announcements. */
export function subscribeAllow(service: ServiceName): string[] {
  return [`${inboxPrefixOf(service)}.>`, TRACE_KEEP_SUBJECT];
}

function list(items: string[], indent: string): string {
  return `[\n${items.map((s) => `${indent}  ${JSON.stringify(s)}`).join("\n")}\n${indent}]`;
}

/** The whole nats-server config: JetStream on, one user per registered service (shared/services.ts) and admin. */
export function renderAuthConfig(): string {
  const users = SERVICES.map((service) => {
    const { user, passwordVar } = natsUserOf(service);
    return [
      `    {`,
      `      user: ${user}`,
      `      password: $${passwordVar}`,
      `      permissions: {`,
      `        publish: { allow: ${list(publishAllow(service), "        ")} }`,
      `        subscribe: { allow: ${list(subscribeAllow(service), "        ")} }`,
      `      }`,
      `    }`,
    ].join("\n");
  });
  users.push(
    [
      `    # The operator CLI (events, trace, replay, dlq, rebuild-view): everything.`,
      `    { user: ${ADMIN.user}, password: $${ADMIN.passwordVar}, permissions: { publish: ">", subscribe: ">" } }`,
    ].join("\n"),
  );
  return `# GENERATED by nats/auth/auth-config.ts — do not edit by hand; regenerate with
#   node --import tsx nats/auth/auth-config.ts > nats/auth/nats-server.auth.conf
#
# nats-server with authentication: one user per service, each allowed to publish only its own
# events and the JetStream API calls for its own consumers and KV buckets, and to subscribe only to
# its own inbox prefix (and the kept traces' announcements); \`admin\` for the CLI. Passwords come from the server's environment:
#   ${[...SERVICES.map((s) => natsUserOf(s).passwordVar), ADMIN.passwordVar].join(", ")}
# The server parses each value as config: use a letter first, then letters, digits and '-' (e.g.
# pw-$(openssl rand -hex 24)); a bcrypt hash must be wrapped in double quotes inside the value.
# Start: nats-server -c nats/auth/nats-server.auth.conf -sd <store dir>   (see docs/operations.md "Security").
# Listen address, port and store dir come from the command line (-a, -p, -sd) or an including file.

jetstream: enabled

authorization {
  users: [
${users.join("\n")}
  ]
}
`;
}

if (import.meta.url === `file://${process.argv[1]}`) process.stdout.write(renderAuthConfig());
