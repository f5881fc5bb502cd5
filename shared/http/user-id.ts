/**
 * The `{userId}` of the /users/{userId}/… routes (notification's notifications, loyalty's points):
 * how the OpenAPI document describes it, and the check that answers 404 before any NATS call for a
 * value no order can carry — user ids travel in subjects (shared/ids.ts).
 */
import { isUserId, USER_ID_PATTERN } from "../ids.ts";
import { HttpProblem } from "./problem.ts";

/** The OpenAPI path parameter of every /users/{userId}/… route. */
export const USER_ID_PARAMETER = {
  name: "userId",
  in: "path",
  required: true,
  description: "The order's userId: 1-64 letters, digits, '_' or '-'. Any other value is 404.",
  schema: { type: "string", pattern: USER_ID_PATTERN.source },
} as const;

/** What the 404 of a /users/{userId}/… route means, for its `problems({...})`. */
export const USER_ID_NOT_FOUND = { 404: "Not a user id of the form orders take." } as const;

/**
 * The user id a route was called with, or a 404 `user-not-found` problem for anything else.
 *
 * @example
 * const userId = requireUserId(c.req.param("userId"));
 */
export function requireUserId(value: string): string {
  if (!isUserId(value)) throw new HttpProblem(404, "user-not-found", "User ids are 1-64 letters, digits, '_' or '-'.");
  return value;
}
