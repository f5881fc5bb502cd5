/**
 * `npm run docs`: writes docs/reference/ from the code (scripts/reference/index.ts) and removes a
 * page there that the code no longer makes. Prints what changed.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { generateReference, REFERENCE_DIR } from "./reference/index.ts";

const root = resolve(fileURLToPath(new URL("..", import.meta.url)));
const dir = join(root, REFERENCE_DIR);
const pages = await generateReference();
mkdirSync(dir, { recursive: true });
let changed = 0;
for (const [name, text] of Object.entries(pages)) {
  const path = join(dir, name);
  let before: string | null = null;
  try {
    before = readFileSync(path, "utf8");
  } catch {
    before = null;
  }
  if (before === text) continue;
  writeFileSync(path, text);
  changed++;
  console.log(`${before === null ? "wrote" : "updated"} ${REFERENCE_DIR}/${name}`);
}
for (const name of readdirSync(dir)) {
  if (name in pages) continue;
  rmSync(join(dir, name));
  changed++;
  console.log(`removed ${REFERENCE_DIR}/${name} (no longer generated)`);
}
console.log(changed === 0 ? `${REFERENCE_DIR} is up to date` : `${changed} page(s) changed in ${REFERENCE_DIR}`);
// Loggers and the services' apps may hold timers; the pages are written.
process.exit(0);
