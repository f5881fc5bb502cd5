/**
 * The CLI's frame: a table of commands, each with its help text, options and whether it takes
 * `--json`; parsing with `node:util`'s `parseArgs`; `--help` for the whole CLI and per command,
 * `--version`; exit code 0 on success, help and version, 1 with a one-line reason on stderr when a
 * command fails, 2 with the reason and the usage on stderr when the command line is wrong (the
 * convention of getopt-style tools: a script can tell "you called me wrong" from "it failed").
 * Adding a command is one entry in the table (cli/commands.ts). No NATS here: testable in-process.
 */
import { parseArgs } from "node:util";

/** Where a command writes: stdout and stderr (a TTY or not), and the environment it reads. */
export interface CliIo {
  stdout: TextOut;
  stderr: TextOut;
  env: Record<string, string | undefined>;
}

/** The part of a stream the CLI uses (process.stdout, or a buffer in tests). */
export interface TextOut {
  write(text: string): unknown;
  /** True on a terminal: progress redraws one line, colours are allowed. */
  isTTY?: boolean;
}

/** A failure the user can act on: printed as one line, exit code 1. */
export class CliError extends Error {
  override name = "CliError";
}

/**
 * The command line itself is wrong (unknown command or option, missing or malformed argument, no
 * command): printed as one line followed by the usage on stderr, exit code 2.
 */
export class CliUsageError extends CliError {
  override name = "CliUsageError";
  /** The usage to print after the reason; the runner fills in the command's, else the CLI's. */
  usage: string | undefined;
  constructor(message: string, options: { usage?: string; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.usage = options.usage;
  }
}

/** An option besides `--help` and `--json`, as `parseArgs` takes it, with its help text. */
export interface CliOption {
  type: "string" | "boolean";
  short?: string;
  /** How the value is shown in help, e.g. `<N>`. */
  value?: string;
  help: string;
}

/** What a command is run with: parsed options and positionals, and whether `--json` was given. */
export interface CommandInput {
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
  json: boolean;
}

/** One command: its words, its help, what it takes, and what it does. */
export interface CliCommand {
  /** The words that name it: `events`, `dlq list`. */
  name: string;
  /** Required positional arguments, by name (`orderId` is shown as `<orderId>`). */
  positionals?: readonly string[];
  /** Options besides `--help` (and `--json` when `json` is true). */
  options?: Readonly<Record<string, CliOption>>;
  /** Usage line after the name when the options alone do not say it, e.g. `--consumer <name> (--from-seq <N> | --from-time <ISO>)`. */
  synopsis?: string;
  /** One line for the command list. */
  summary: string;
  /** Paragraphs for `<command> --help`. */
  description?: string;
  /** Takes `--json`: one JSON document on stdout instead of text (read commands). */
  json?: boolean;
  /** What `--json` prints, for the help text. */
  jsonHelp?: string;
  run(input: CommandInput, io: CliIo): Promise<void>;
}

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

const EXIT_CODES =
  "exit codes: 0 success (and --help, --version), 1 failure, with a one-line reason on stderr,\n" +
  "            2 usage error (unknown command or option, missing or bad argument), with the usage on stderr";

/** A command's usage line after `orderstream`: `events <orderId> [--json]`. */
export function usageOf(command: CliCommand): string {
  const positionals = (command.positionals ?? []).map((p) => `<${p}>`).join(" ");
  const options = command.synopsis ?? (Object.keys(command.options ?? {}).length > 0 ? "[options]" : "");
  return [command.name, positionals, options, command.json ? "[--json]" : ""].filter(Boolean).join(" ");
}

/** The top-level usage: every command with its summary, the environment and the exit codes. */
export function renderUsage(commands: readonly CliCommand[], envHelp: string): string {
  const rows = commands.map((c) => [usageOf(c), c.summary] as const);
  // Long synopses (replay's) go on a line of their own rather than widening the column.
  const width = Math.max(...rows.map(([u]) => u.length).filter((n) => n <= 32));
  const lines = rows.map(([usage, summary]) =>
    usage.length > width ? `  ${usage}\n  ${"".padEnd(width)}  ${summary}` : `  ${usage.padEnd(width)}  ${summary}`,
  );
  const readers = commands.filter((c) => c.json).map((c) => c.name);
  return [
    "usage: orderstream <command> [options]",
    "       orderstream --help | --version",
    "",
    "commands:",
    ...lines,
    "",
    `every command takes -h/--help; ${readers.join(", ")} take --json (one JSON document on stdout).`,
    "orderstream <command> --help tells more.",
    "",
    envHelp,
    EXIT_CODES,
  ].join("\n");
}

/** `<command> --help`: its usage, description, options and the exit codes. */
export function renderCommandHelp(command: CliCommand): string {
  const options: [string, string][] = Object.entries(command.options ?? {}).map(([name, o]) => [
    `${o.short ? `-${o.short}, ` : ""}--${name}${o.type === "string" ? ` ${o.value ?? "<value>"}` : ""}`,
    o.help,
  ]);
  if (command.json) options.push(["--json", command.jsonHelp ?? "print one JSON document instead of text"]);
  options.push(["-h, --help", "this help"]);
  const width = Math.max(...options.map(([flag]) => flag.length));
  return [
    `usage: orderstream ${usageOf(command)}`,
    "",
    command.summary,
    ...(command.description ? ["", command.description] : []),
    "",
    "options:",
    ...options.map(([flag, help]) => `  ${flag.padEnd(width)}  ${help}`),
    "",
    EXIT_CODES,
  ].join("\n");
}

/** What a command line asks for: a help text or the version to print, or a command to run with its input. */
export type Parsed = { kind: "help"; text: string } | { kind: "version" } | { kind: "run"; command: CliCommand; input: CommandInput };

const isHelpFlag = (arg: string | undefined) => arg === "--help" || arg === "-h";
const isVersionFlag = (arg: string | undefined) => arg === "--version" || arg === "-V";

/**
 * Resolves argv against the table: the longest run of leading words that names a command, then
 * its options by `parseArgs` (strict: an unknown option is an error). Throws CliUsageError when
 * the command line is wrong.
 * @example parseCommandLine(COMMANDS, ["events", id, "--json"], env) // { kind: "run", command: events, input: { positionals: [id], json: true, … } }
 */
export function parseCommandLine(commands: readonly CliCommand[], argv: readonly string[], envHelp: string): Parsed {
  const [first, ...others] = argv;
  if (first === undefined) throw new CliUsageError("no command given");
  if (isHelpFlag(first)) return { kind: "help", text: renderUsage(commands, envHelp) };
  if (isVersionFlag(first) && others.length === 0) return { kind: "version" };
  if (first.startsWith("-"))
    throw new CliUsageError(`unknown option "${first}" before the command (orderstream --help lists the commands)`);
  if (first === "help") {
    if (others.length === 0) return { kind: "help", text: renderUsage(commands, envHelp) };
    return { kind: "help", text: helpFor(commands, others) };
  }
  const found = match(commands, argv);
  if ("group" in found) {
    const [group, sub] = argv;
    if (isHelpFlag(sub)) return { kind: "help", text: found.group.map(renderCommandHelp).join("\n\n") };
    const names = found.group.map((c) => c.name.split(" ").slice(1).join(" ")).join(", ");
    const usage = found.group.map(renderCommandHelp).join("\n\n");
    if (sub === undefined) throw new CliUsageError(`${group} needs a subcommand: ${names} (see orderstream ${group} --help)`, { usage });
    throw new CliUsageError(`unknown command "${group} ${sub}": ${group} takes ${names}`, { usage });
  }
  const { command, rest } = found;
  const options: Record<string, { type: "string" | "boolean"; short?: string }> = {};
  for (const [name, o] of Object.entries(command.options ?? {}))
    options[name] = o.short ? { type: o.type, short: o.short } : { type: o.type };
  options.help = { type: "boolean", short: "h" };
  if (command.json) options.json = { type: "boolean" };
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: [...rest], options, allowPositionals: true, strict: true });
  } catch (err) {
    // parseArgs explains at length; its first sentence is the reason.
    const reason = (err as Error).message.split(/\.\s/)[0]!.replace(/\.$/, "");
    throw new CliUsageError(`${command.name}: ${reason} (see orderstream ${command.name} --help)`, {
      usage: renderCommandHelp(command),
      cause: err,
    });
  }
  const { help, json, ...values } = parsed.values as Record<string, string | boolean | undefined>;
  if (help) return { kind: "help", text: renderCommandHelp(command) };
  const wanted = command.positionals ?? [];
  if (parsed.positionals.length < wanted.length) {
    throw new CliUsageError(
      `${command.name} needs ${wanted
        .slice(parsed.positionals.length)
        .map((p) => `<${p}>`)
        .join(" ")} (see orderstream ${command.name} --help)`,
      { usage: renderCommandHelp(command) },
    );
  }
  if (parsed.positionals.length > wanted.length) {
    throw new CliUsageError(
      `${command.name}: unexpected argument "${parsed.positionals[wanted.length]}" (see orderstream ${command.name} --help)`,
      { usage: renderCommandHelp(command) },
    );
  }
  return { kind: "run", command, input: { values, positionals: parsed.positionals, json: json === true } };
}

function helpFor(commands: readonly CliCommand[], words: readonly string[]): string {
  const found = match(commands, words);
  return "group" in found ? found.group.map(renderCommandHelp).join("\n\n") : renderCommandHelp(found.command);
}

/** The command named by the longest run of leading words (`dlq list` before `dlq`), or the group `dlq`. */
function match(
  commands: readonly CliCommand[],
  argv: readonly string[],
): { command: CliCommand; rest: readonly string[] } | { group: CliCommand[] } {
  let best: CliCommand | undefined;
  for (const c of commands) {
    const words = c.name.split(" ");
    if (words.every((w, i) => argv[i] === w) && (!best || words.length > best.name.split(" ").length)) best = c;
  }
  if (best) return { command: best, rest: argv.slice(best.name.split(" ").length) };
  const group = commands.filter((c) => c.name.includes(" ") && c.name.split(" ")[0] === argv[0]);
  if (group.length > 0) return { group };
  throw new CliUsageError(`unknown command "${argv[0]}" (orderstream --help lists the commands)`);
}

/** A reason as one line: whatever a library put in the message, newlines included. */
export function oneLine(message: string): string {
  return message.replace(/\s*\n\s*/g, " ").trim();
}

/** What the CLI says about itself: the environment it reads (for the usage) and its version. */
export interface CliAbout {
  envHelp: string;
  version: string;
}

/**
 * Runs the command line against the table and answers the exit code; never throws.
 * @example process.exitCode = await runCommandLine(COMMANDS, process.argv.slice(2), io, { envHelp: ENV_HELP, version })
 */
export async function runCommandLine(
  commands: readonly CliCommand[],
  argv: readonly string[],
  io: CliIo,
  about: CliAbout,
): Promise<number> {
  let command: CliCommand | undefined;
  try {
    const parsed = parseCommandLine(commands, argv, about.envHelp);
    if (parsed.kind === "help") {
      io.stdout.write(`${parsed.text}\n`);
      return EXIT_OK;
    }
    if (parsed.kind === "version") {
      io.stdout.write(`${about.version}\n`);
      return EXIT_OK;
    }
    command = parsed.command;
    await command.run(parsed.input, io);
    return EXIT_OK;
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    io.stderr.write(`orderstream: ${oneLine(message) || "failed"}\n`);
    if (!(err instanceof CliUsageError)) return EXIT_FAILURE;
    const usage = err.usage ?? (command ? renderCommandHelp(command) : renderUsage(commands, about.envHelp));
    io.stderr.write(`\n${usage}\n`);
    return EXIT_USAGE;
  }
}
