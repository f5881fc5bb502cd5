/** Ids the system issues and how they are checked before they reach a NATS subject. */

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
export async function deterministicUuid(...parts: string[]): Promise<string> {
  const bytes = new Uint8Array(
    await crypto.subtle.digest("SHA-256", new TextEncoder().encode(parts.join("\u001f"))),
  ).slice(0, 16);
  bytes[6] = (bytes[6]! & 0x0f) | 0x80;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** Hex SHA-256 of a string: used for keys built from user input (idempotency keys, bodies). */
export async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}
