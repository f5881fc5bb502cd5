/**
 * docs/reference/environment.md from the one table of environment variables (shared/env-vars.ts),
 * grouped by who reads them.
 */
import { ENV_READERS, ENV_VARS, type EnvReader, type EnvVar } from "../../shared/env-vars.ts";
import { code, generatedNote, table } from "./markdown.ts";

function defaultOf(entry: EnvVar): string {
  if (entry.defaultText !== undefined) return entry.defaultText;
  return entry.default === undefined ? "—" : code(entry.default);
}

/** The page. */
export function renderEnvironmentReference(): string {
  const out: string[] = [
    generatedNote("the table of environment variables in shared/env-vars.ts"),
    "",
    "# Environment",
    "",
    "Every variable the services, `npm start` and the tools read. A blank value is the same as unset unless the meaning says otherwise. A value a service cannot use stops it at start with a message naming the variable and what it needs. How the command line finds its settings: [command line](cli.md#environment).",
  ];
  for (const [reader, { title, about }] of Object.entries(ENV_READERS) as [EnvReader, { title: string; about: string }][]) {
    const rows = Object.entries<EnvVar>(ENV_VARS)
      .filter(([, entry]) => entry.reader === reader)
      .map(([name, entry]) => [code(name), defaultOf(entry), entry.meaning]);
    out.push("", `## ${title}`, "", about, "", table(["variable", "default", "meaning"], rows));
  }
  out.push("");
  return out.join("\n");
}
