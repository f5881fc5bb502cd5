/** The order API's request body, validated with valibot (contract: "Order API"). */
import * as v from "valibot";
import { USER_ID_PATTERN } from "../../shared/ids.ts";

const hasAtMostTwoDecimals = (n: number) => Math.round(n * 100) / 100 === n;
const cents = (n: number) => Math.round(n * 100);

const Price = v.pipe(
  v.number("must be a number"),
  v.finite("must be a finite number"),
  v.minValue(0, "must not be negative"),
  v.maxValue(1_000_000_000, "must be at most 1,000,000,000"),
  v.check(hasAtMostTwoDecimals, "must have at most 2 decimal places"),
);

export const CreateOrderBody = v.pipe(
  v.custom<unknown>((x) => typeof x === "object" && x !== null && !Array.isArray(x), "must be a JSON object"),
  v.object({
    userId: v.pipe(
      v.string("must be a string"),
      v.regex(USER_ID_PATTERN, "must be 1-64 letters, digits, '_' or '-'"),
    ),
    amount: v.pipe(
      v.number("must be a number"),
      v.finite("must be a finite number"),
      v.gtValue(0, "must be greater than 0"),
      v.maxValue(1_000_000_000, "must be at most 1,000,000,000"),
      v.check(hasAtMostTwoDecimals, "must have at most 2 decimal places"),
    ),
    currency: v.optional(v.pipe(v.string("must be a string"), v.regex(/^[A-Z]{3}$/, "must be three capital letters")), "USD"),
    items: v.optional(
      v.pipe(
        v.array(
          v.object({
            sku: v.pipe(
              v.string("must be a string"),
              v.minLength(1, "must not be empty"),
              v.maxLength(64, "must be at most 64 characters"),
              v.regex(/^[\x21-\x7e]+$/, "must be printable ASCII without spaces"),
            ),
            quantity: v.pipe(
              v.number("must be a number"),
              v.integer("must be a whole number"),
              v.minValue(1, "must be at least 1"),
              v.maxValue(1_000_000, "must be at most 1,000,000"),
            ),
            unitPrice: Price,
          }),
          "must be an array of items",
        ),
        v.maxLength(500, "must hold at most 500 items"),
      ),
      [],
    ),
  }, (issue) => (issue.path ? "is required" : "must be a JSON object")),
  v.forward(
    v.check(
      (body) =>
        body.items.length === 0 ||
        body.items.reduce((sum, item) => sum + item.quantity * cents(item.unitPrice), 0) === cents(body.amount),
      "must equal the sum of quantity × unitPrice over the items",
    ),
    ["amount"],
  ),
);

export type CreateOrderInput = v.InferOutput<typeof CreateOrderBody>;
