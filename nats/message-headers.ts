/**
 * The headers of a publish on the event path, built in one go. nats.js's `MsgHdrs.set` checks and
 * canonicalises the name and copies the key list twice per call: four calls per event were among
 * the largest allocations of the publishing services (bench/allocations.ts). nats.js only calls
 * `encode()` on a publish's headers and keeps no reference to them (nats-core's protocol.js
 * `publish`), so a fresh object per message filled straight from a record is all it needs. Reads
 * go through otel/nats-headers.ts `headerValue`.
 */
import { MsgHdrsImpl, type MsgHdrs } from "@nats-io/transport-node";
import type { HeaderRecord } from "../otel/nats-headers.ts";

/**
 * nats.js's headers, written out (`encode()` → `toString()`) in the same form but without its Map
 * iterator, which makes an entry array per header of every message published.
 */
class PublishHeaders extends MsgHdrsImpl {
  override toString(): string {
    if (this.code !== 0 || this.headers.size === 0) return super.toString();
    let block = "NATS/1.0";
    this.headers.forEach((values, key) => {
      for (let i = 0; i < values.length; i++) block += `\r\n${key}: ${values[i]}`;
    });
    return `${block}\r\n\r\n`;
  }
}

/** A header value nats.js would refuse (`MsgHdrsImpl.validHeaderValue`): it would break the header block. */
const LINE_BREAK = /[\r\n]/;

/**
 * NATS headers holding `record`'s entries, in its key order. Names must be valid header names (ours
 * are constants, and the trace propagators'); a value with a line break throws, as `MsgHdrs.set` does.
 */
export function messageHeaders(record: HeaderRecord): MsgHdrs {
  const headers = new PublishHeaders();
  for (const key in record) {
    const value = record[key]!;
    if (LINE_BREAK.test(value)) throw new Error(`header ${key}: values cannot contain \\r or \\n`);
    headers.headers.set(key, [value.trim()]);
  }
  return headers;
}
