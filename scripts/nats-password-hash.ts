/**
 * The passwords as `npm start`'s nats-server sees them: bcrypt hashes, not the passwords.
 *
 * nats-server warns "Plaintext passwords detected, use nkeys or bcrypt" unless every user's
 * password in its config is a bcrypt hash. Hashes chosen over nkeys: nats/auth/nats-server.auth.conf
 * already reads each password from a variable, and a quoted hash in that variable is all the server
 * needs, so the config, the services, the CLI and natscli keep the user/password they use today
 * (NATS_USER/NATS_PASSWORD, `--user/--password`) and nothing else changes. Nkeys would avoid this
 * one dependency (@nats-io/nkeys comes with nats.js) but add a second kind of credential to every
 * client: a seed variable in the services' config and both runtimes, the CLI, seed files for
 * natscli, and a second rendering of the permissions for nkey users. bcryptjs is plain JavaScript
 * with no dependencies of its own, and only npm start imports it (not the services, not the CLI).
 *
 * The plain passwords stay in .data/nats/local.json (mode 600) for the services and the CLI; the
 * server's environment and config hold only hashes. Hashed afresh at every start (five at cost 10,
 * about 0.3 s, while the bundles build), so they always match the stored passwords.
 */
import bcrypt from "bcryptjs";

/** Go's bcrypt.DefaultCost: the server checks a hash once per connection, not per message. */
export const BCRYPT_COST = 10;

/**
 * `<USER>_NATS_PASSWORD` → `"<bcrypt hash>"` for each user, as nats/auth/nats-server.auth.conf reads
 * them. Quoted, because the server parses the value as config, where a bare `$2b$…` would be a
 * variable reference.
 * @example await serverPasswordEnv({ admin: "pw-…" }) // { ADMIN_NATS_PASSWORD: '"$2b$10$…"' }
 */
export async function serverPasswordEnv(passwords: Readonly<Record<string, string>>, cost = BCRYPT_COST): Promise<Record<string, string>> {
  const entries = await Promise.all(
    Object.entries(passwords).map(
      async ([user, password]) => [`${user.toUpperCase()}_NATS_PASSWORD`, `"${await bcrypt.hash(password, cost)}"`] as const,
    ),
  );
  return Object.fromEntries(entries);
}
