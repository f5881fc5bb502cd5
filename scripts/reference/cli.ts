/**
 * docs/reference/cli.md from the CLI's own table of commands (cli/commands.ts) and the help it
 * prints (cli/command.ts): commands, options, what `--json` prints, exit codes.
 */
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, renderUsage, usageOf as commandUsage, type CliCommand } from "../../cli/command.ts";
import { code, generatedNote, githubSlug, table } from "./markdown.ts";

/** What the page is made from: the command table and the environment help the CLI prints. */
export interface CliSources {
  commands: readonly CliCommand[];
  envHelp: string;
}

const usageOf = (command: CliCommand) => `orderstream ${commandUsage(command)}`;

function optionRows(command: CliCommand): string[][] {
  const rows = Object.entries(command.options ?? {}).map(([name, o]) => [
    code(`${o.short ? `-${o.short}, ` : ""}--${name}${o.type === "string" ? ` ${o.value ?? "<value>"}` : ""}`),
    o.help,
  ]);
  if (command.json) rows.push([code("--json"), command.jsonHelp ?? "print one JSON document instead of text"]);
  rows.push([code("-h, --help"), "its help, exit code 0"]);
  return rows;
}

/** The page. */
export function renderCliReference({ commands, envHelp }: CliSources): string {
  const out: string[] = [
    generatedNote("the CLI's table of commands (cli/commands.ts) and its help text (cli/command.ts)"),
    "",
    "# Command line",
    "",
    "`npm run cli -- <command>` in a checkout, `npx orderstream <command>` from the package, `node dist/cli.mjs <command>` in the image. Against `npm start`'s servers it needs no settings; otherwise it reads the variables under [Environment](#environment).",
    "",
    table(
      ["command", "does"],
      commands.map((c) => [`[${code(usageOf(c))}](#${githubSlug(c.name)})`, c.summary]),
    ),
    "",
    "`orderstream --help` lists the commands, `orderstream <command> --help` explains one, `orderstream --version` (or `-V`) prints the version.",
    "",
    "## Exit codes",
    "",
    table(
      ["code", "when"],
      [
        [String(EXIT_OK), "success, and `--help`, `--version`"],
        [String(EXIT_FAILURE), "the command failed: a one-line reason on stderr (`orderstream: …`)"],
        [
          String(EXIT_USAGE),
          "usage error — no command, an unknown command or option, a missing or malformed argument: the reason, then the usage, on stderr",
        ],
      ],
    ),
  ];
  for (const command of commands) {
    out.push(
      "",
      `## ${command.name}`,
      "",
      `${code(usageOf(command))}`,
      "",
      `${command.summary[0]!.toUpperCase()}${command.summary.slice(1)}.`,
    );
    if (command.description) out.push("", command.description.replace(/\n/g, " "));
    out.push("", table(["option", "meaning"], optionRows(command)));
  }
  out.push(
    "",
    "## Environment",
    "",
    "Without `NATS_URL` the CLI uses the nats-server a running `npm start` started, with its admin user, and that run's Jaeger and VictoriaLogs; otherwise it reads the services' `NATS_*`, `JAEGER_QUERY_URL` and `VICTORIA_LOGS_QUERY_URL` (or `VICTORIA_LOGS_URL`) variables, as `orderstream --help` says below (each variable: [environment](environment.md)).",
    "",
    "## The whole help",
    "",
    "`orderstream --help` prints:",
    "",
    "```text",
    renderUsage(commands, envHelp),
    "```",
    "",
  );
  return out.join("\n");
}
