/**
 * NATS headers on the event path, built and read in one pass each. nats.js's `MsgHdrs.set` checks
 * and canonicalises the name and copies the key list twice per call, and `get` copies it once: on
 * a message with half a dozen headers that was the largest allocation of the consuming services
 * (bench/allocations.ts). nats.js itself only calls `encode()` on the headers of a publish and
 * keeps no reference to them (nats-core's protocol.js `publish`), so a fresh object made from a
 * record per message is all it needs.
 */
import { MsgHdrsImpl, type MsgHdrs } from "@nats-io/transport-node";
import type { HeaderRecord } from "../otel/nats-headers.ts";

/** A header value nats.js would refuse (`MsgHdrsImpl.validHeaderValue`): it would break the header block. */
const LINE_BREAK = /[\r\n]/;

/**
 * NATS headers holding `record`'s entries, in its key order. Names must be valid header names (ours
 * are constants, and the trace propagators'); a value with a line break throws, as `MsgHdrs.set` does.
 */
export function messageHeaders(record: HeaderRecord): MsgHdrs {
  const lists: Record<string, string[]> = {};
  for (const key in record) {
    const value = record[key]!;
    if (LINE_BREAK.test(value)) throw new Error(`header ${key}: values cannot contain \\r or \\n`);
    lists[key] = [value.trim()];
  }
  return MsgHdrsImpl.fromRecord(lists);
}

/** Each header's first value by exact name (what `MsgHdrs.get` answers), read in one pass. */
export function headerRecord(headers: MsgHdrs | undefined): HeaderRecord | undefined {
  if (!headers) return undefined;
  // No prototype: a header named like an Object property is a header like any other.
  const record = Object.create(null) as HeaderRecord;
  for (const [key, values] of headers) if (values.length > 0) record[key] = values[0]!;
  return record;
}
