/**
 * The loyalty service: points per user from the payments (services/loyalty/domain/points.ts), kept
 * in a KV bucket of its own (services/loyalty/store.ts). It publishes no event and calls no other
 * service: it is delivered PAYMENT_COMPLETED and PAYMENT_REFUNDED by its partition consumers, which
 * start at ORDERS sequence 1 when first created, so the payments made before it ran count too.
 */
import { Hono } from "hono";
import * as v from "valibot";
import type { KV } from "@nats-io/kv";
import type { Infra, ServiceDefinition } from "../../host/service-definition.ts";
import type { PartitionHandler } from "../../nats/delivery.ts";
import { bucketOptions, ensureBucket } from "../../nats/setup.ts";
import { BUCKETS } from "../../nats/subjects.ts";
import { describeRoute, jsonResponse, problems, UNAVAILABLE } from "../../shared/http/openapi.ts";
import { requireUserId, USER_ID_NOT_FOUND, USER_ID_PARAMETER } from "../../shared/http/user-id.ts";
import { summary } from "./domain/points.ts";
import { applyEvent, readAccount } from "./store.ts";

export interface LoyaltyRuntime {
  infra: Infra;
  accounts: KV;
}

/** GET /users/{userId}/points answers this (the OpenAPI document is generated from it). */
export const PointsBody = v.object({
  userId: v.string(),
  points: v.pipe(v.number(), v.integer(), v.description("One per whole currency unit of each payment, less what refunds took back.")),
  orders: v.pipe(v.number(), v.integer(), v.minValue(0), v.description("Orders whose points the user holds: paid, not refunded.")),
});
type PointsAnswer = v.InferOutput<typeof PointsBody>;

export const loyaltyService: ServiceDefinition<LoyaltyRuntime> = {
  name: "loyalty",
  async setup(infra) {
    const accounts = await ensureBucket(infra.nc, infra.jsm, BUCKETS.loyaltyPoints, bucketOptions.loyaltyPoints);
    return { infra, accounts };
  },
  handlers(rt) {
    const handler: PartitionHandler = {
      // Nothing is remembered between events: each one reads its user's account.
      forget() {},
      async handle(event, delivery) {
        const applied = await applyEvent(rt.accounts, event, delivery.seq);
        if (!applied) rt.infra.log.debug({ eventId: event.eventId, seq: delivery.seq }, "applied to the account before: nothing to do");
      },
    };
    return () => handler;
  },
  routes(app, runtime) {
    const users = new Hono();
    users.get(
      "/:userId/points",
      describeRoute({
        operationId: "getPoints",
        tags: ["loyalty"],
        summary: "A user's loyalty points",
        description: "One point per whole currency unit of each completed payment, taken back when the payment is refunded.",
        parameters: [USER_ID_PARAMETER],
        responses: {
          200: jsonResponse("The user's points (zero for a user never paid).", PointsBody),
          ...problems({ ...USER_ID_NOT_FOUND, ...UNAVAILABLE }),
        },
      }),
      async (c) => {
        const userId = requireUserId(c.req.param("userId"));
        const { account } = await readAccount(runtime().accounts, userId);
        return c.json(summary(account) satisfies PointsAnswer);
      },
    );
    app.route("/users", users);
  },
  api: () => ({
    description:
      "Loyalty points per user, from the payments on the ORDERS stream (backfilled from its first event). Errors are RFC 9457 `application/problem+json`.",
  }),
};
