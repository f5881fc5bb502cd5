/** Ids the system issues and how they are checked before they reach a NATS subject. */
import { sha256 } from "./sha256.ts";

const encoder = new TextEncoder();

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** A new random order id (UUID v4, lower case). */
export function newOrderId(): string {
  return crypto.randomUUID();
}

/** True when `id` has the form the API issues; anything else is 404 before any NATS call. */
export function isOrderId(id: string): boolean {
  return UUID.test(id);
}

/** User ids travel in subjects, so they are restricted to subject-safe characters. */
export const USER_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

export function isUserId(id: string): boolean {
  return USER_ID_PATTERN.test(id);
}

/**
 * A name-based UUID (version 8 layout) from SHA-256 of the parts: the same logical thing always
 * gets the same id, which is what makes retried publishes deduplicate.
 */
export function deterministicUuid(...parts: string[]): string {
  const bytes = sha256(encoder.encode(parts.join("\u001f"))).slice(0, 16);
  bytes[6] = (bytes[6]! & 0x0f) | 0x80;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = toHex(bytes);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** Hex SHA-256 of a string: used for keys built from user input (idempotency keys, bodies). */
export function sha256Hex(text: string): string {
  return toHex(sha256(encoder.encode(text)));
}

function toHex(bytes: Uint8Array): string {
  let out = "";
  for (const b of bytes) out += b.toString(16).padStart(2, "0");
  return out;
}
