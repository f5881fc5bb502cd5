/**
 * What `npm start` tells the CLI about the nats-server it started: its URL and the admin user's
 * password, in `.data/nats/local.json` (mode 600, git-ignored), so that `npm run cli -- …` works
 * against it without exporting anything. Passwords are made once per checkout and kept there.
 */
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { SERVICES } from "../nats/subjects.ts";

export const LOCAL_NATS_FILE = fileURLToPath(new URL("../.data/nats/local.json", import.meta.url));

export type NatsUser = (typeof SERVICES)[number] | "admin";

export interface LocalNats {
  url: string;
  passwords: Record<NatsUser, string>;
}

/** Passwords for the auth config's users: a letter first (nats-server parses env values as config). */
export function localPasswords(): Record<NatsUser, string> {
  const existing = readLocalNats();
  if (existing) return existing.passwords;
  const users: NatsUser[] = [...SERVICES, "admin"];
  return Object.fromEntries(users.map((u) => [u, `pw-${randomBytes(24).toString("hex")}`])) as Record<NatsUser, string>;
}

export function writeLocalNats(local: LocalNats): void {
  mkdirSync(dirname(LOCAL_NATS_FILE), { recursive: true });
  writeFileSync(LOCAL_NATS_FILE, JSON.stringify(local, null, 2), { mode: 0o600 });
  chmodSync(LOCAL_NATS_FILE, 0o600);
}

export function readLocalNats(): LocalNats | null {
  if (!existsSync(LOCAL_NATS_FILE)) return null;
  try {
    return JSON.parse(readFileSync(LOCAL_NATS_FILE, "utf8")) as LocalNats;
  } catch {
    return null;
  }
}
