/**
 * Ids the system issues and how they are checked before they reach a NATS subject. Hashing uses
 * `node:crypto`'s synchronous createHash (Deno provides `node:crypto` too): WebCrypto's digest is
 * async, and ids are derived on every event published.
 */
import { createHash } from "node:crypto";

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
  const hex = createHash("sha256").update(parts.join("\u001f"), "utf8").digest("hex");
  // Version 8 in the 13th digit; the variant's two bits (10) over the 17th digit's top two.
  const variant = VARIANT_DIGITS[Number.parseInt(hex[16]!, 16) & 3];
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-8${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

const VARIANT_DIGITS = "89ab";

/** Hex SHA-256 of a string: used for keys built from user input (idempotency keys, bodies). */
export function sha256Hex(text: string): string {
  return createHash("sha256").update(text, "utf8").digest("hex");
}
