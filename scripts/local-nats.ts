/**
 * What `npm start` tells the CLI about the nats-server it started: its URL and the admin user's
 * password, in `.data/nats/local.json` (mode 600, git-ignored), so that `npm run cli -- …` works
 * against it without exporting anything; and the same for natscli as a context file,
 * `.data/nats/natscli.json` (`nats --context .data/nats/natscli.json …`, or NATS_CONTEXT).
 * Passwords are made once per checkout and kept there; the server itself is given only their
 * bcrypt hashes (scripts/nats-password-hash.ts).
 */
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { DATA_DIR } from "./data-dir.ts";
import { SERVICES } from "../nats/subjects.ts";

export const LOCAL_NATS_FILE = join(DATA_DIR, "nats", "local.json");
/** natscli takes a context from a file path ending in .json (`--context` or NATS_CONTEXT). */
export const NATSCLI_CONTEXT_FILE = join(DATA_DIR, "nats", "natscli.json");

export type NatsUser = (typeof SERVICES)[number] | "admin";

export interface LocalNats {
  url: string;
  passwords: Record<NatsUser, string>;
}

/** Fresh passwords for the auth config's users: a letter first (nats-server parses env values as config). */
export function newPasswords(): Record<NatsUser, string> {
  const users: NatsUser[] = [...SERVICES, "admin"];
  return Object.fromEntries(users.map((u) => [u, `pw-${randomBytes(24).toString("hex")}`])) as Record<NatsUser, string>;
}

/**
 * The passwords of this checkout: those npm start made before, and fresh ones for users it did not
 * know then (a service registered since, which the auth config now names: the server needs them all).
 */
export function localPasswords(): Record<NatsUser, string> {
  return { ...newPasswords(), ...readLocalNats()?.passwords };
}

/**
 * A natscli context (the JSON `nats context save` writes) for the admin user of a local server.
 * @example natscliContext({ url: "nats://127.0.0.1:4222", passwords }) // { url, user: "admin", password, description }
 */
export function natscliContext(local: LocalNats): Record<string, string> {
  return {
    description: "orderstream: npm start's nats-server, admin user",
    url: local.url,
    user: "admin",
    password: local.passwords.admin,
  };
}

function writePrivate(path: string, value: unknown): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, JSON.stringify(value, null, 2), { mode: 0o600 });
  chmodSync(path, 0o600);
}

/** Writes local.json for the CLI and natscli.json for natscli, both readable by this user only. */
export function writeLocalNats(local: LocalNats): void {
  writePrivate(LOCAL_NATS_FILE, local);
  writePrivate(NATSCLI_CONTEXT_FILE, natscliContext(local));
}

export function readLocalNats(): LocalNats | null {
  if (!existsSync(LOCAL_NATS_FILE)) return null;
  try {
    return JSON.parse(readFileSync(LOCAL_NATS_FILE, "utf8")) as LocalNats;
  } catch {
    return null;
  }
}
