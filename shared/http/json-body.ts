/**
 * Reading a JSON request body as docs/reference/http-api.md#errors states: 415 unless application/json, 413 over the limit,
 * 400 when it is not JSON, 422 with every failing path when it does not match the schema.
 */
import * as v from "valibot";
import type { Context } from "hono";
import { HttpProblem } from "./problem.ts";

export const MAX_BODY_BYTES = 64 * 1024;

/** Reads, parses and validates the body; throws HttpProblem on each kind of bad input. */
export async function readJsonBody<S extends v.GenericSchema>(c: Context, schema: S): Promise<v.InferOutput<S>> {
  const type = c.req.header("content-type") ?? "";
  if (!/^application\/([\w.+-]+\+)?json\s*(;|$)/i.test(type)) {
    throw new HttpProblem(415, "unsupported-media-type", "Send the body as JSON with Content-Type: application/json.");
  }
  const length = c.req.header("content-length");
  const declared = length === undefined ? NaN : Number(length);
  if (declared > MAX_BODY_BYTES) throw tooLarge();
  // With a declared length and no Transfer-Encoding (which would win over it) the HTTP server
  // delivers exactly that many bytes, so the body can be read whole: on Node straight from the
  // socket, without building a web Request and stream (a few % of the order service's CPU).
  // Any other body is counted as it arrives.
  const whole = Number.isSafeInteger(declared) && c.req.header("transfer-encoding") === undefined;
  const bytes = whole ? new Uint8Array(await c.req.arrayBuffer()) : await readAtMost(c.req.raw, MAX_BODY_BYTES);
  if (bytes.byteLength > MAX_BODY_BYTES) throw tooLarge();
  let value: unknown;
  try {
    // JSON.parse makes "__proto__" an own property, never the prototype; valibot then copies only
    // the schema's keys, so nothing from the body reaches an object's prototype.
    value = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch {
    throw new HttpProblem(
      400,
      "malformed-json",
      bytes.byteLength === 0 ? "The body is empty; send a JSON object." : "The body is not valid JSON.",
    );
  }
  const result = v.safeParse(schema, value);
  if (!result.success) {
    const errors = result.issues.map((issue) => ({ path: v.getDotPath(issue) ?? "", message: issue.message }));
    throw new HttpProblem(422, "validation", "The body does not match the schema; see errors.", errors);
  }
  return result.output;
}

function tooLarge(): HttpProblem {
  return new HttpProblem(413, "body-too-large", `The body is over ${MAX_BODY_BYTES / 1024} KiB.`);
}

/** Reads a request body, failing as soon as it passes `limit` bytes (chunked bodies included). */
async function readAtMost(request: Request, limit: number): Promise<Uint8Array> {
  if (!request.body) return new Uint8Array();
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel();
      throw tooLarge();
    }
    chunks.push(value);
  }
  const out = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}
