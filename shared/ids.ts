/**
 * Ids the system issues and how they are checked before they reach a NATS subject. Hashing uses
 * `node:crypto`'s synchronous createHash (Deno provides `node:crypto` too): WebCrypto's digest is
 * async, and ids are derived on every event published.
 */
import { createHash } from "node:crypto";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * A site's name (SITE, SITES): lower-case letters, digits and inner dashes, at most 16 characters.
 * It becomes a JetStream domain, a subject token and part of consumer names and order ids, so it
 * holds nothing those treat specially ('.', '*', '>', spaces) and no capitals (domains compare
 * exactly, people type them loosely); 16, so that `<site>-<uuid>` stays within the 64 characters
 * an id may have in an event (shared/events.ts).
 */
export const SITE_NAME_PATTERN = /^[a-z](?:[a-z0-9-]{0,14}[a-z0-9])?$/;

/** Every order id the API issues, as a regular expression's source (OpenAPI, response schemas). */
export const ORDER_ID_PATTERN = "^(?:[a-z](?:[a-z0-9-]{0,14}[a-z0-9])?-)?[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$";

export function isSiteName(name: string): boolean {
  return SITE_NAME_PATTERN.test(name);
}

/** Length of a UUID, the tail of every order id. */
const UUID_LENGTH = 36;

/**
 * A new random order id: a UUID v4 (lower case), or at a site `<site>-<uuid>`: the site in the id
 * is what keeps ids and subjects of several sites apart at the hub, by construction.
 */
export function newOrderId(site?: string): string {
  return site === undefined ? crypto.randomUUID() : `${site}-${crypto.randomUUID()}`;
}

/** True when `id` has a form the API issues (plain or a site's); anything else is 404 before any NATS call. */
export function isOrderId(id: string): boolean {
  if (id.length === UUID_LENGTH) return UUID.test(id);
  return (
    id.length > UUID_LENGTH + 1 &&
    id[id.length - UUID_LENGTH - 1] === "-" &&
    UUID.test(id.slice(-UUID_LENGTH)) &&
    isSiteName(id.slice(0, -UUID_LENGTH - 1))
  );
}

/**
 * The site an order id names, or undefined for a plain (single-site or hub) id. Only a length check
 * for a plain id: this runs for every event published.
 */
export function siteOfOrderId(id: string): string | undefined {
  return id.length > UUID_LENGTH + 1 ? id.slice(0, -UUID_LENGTH - 1) : undefined;
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
