/**
 * The CLI's frame, in-process: which command a command line names, its options and positionals,
 * `--help` at every level, `--version`, `--json` only where a command takes it, and the exit codes
 * (0 for success, help and version; 1 with one line on stderr when a command fails; 2 with the
 * reason and the usage on stderr when the command line is wrong).
 */
import { describe, expect, it } from "vitest";
import {
  CliError,
  CliUsageError,
  parseCommandLine,
  renderCommandHelp,
  runCommandLine,
  type CliCommand,
  type CommandInput,
} from "./command.ts";
import { COMMANDS } from "./commands.ts";

const ENV_HELP = "environment: NONE";
const ABOUT = { envHelp: ENV_HELP, version: "9.8.7" };

/** A table like the real one, whose commands record what they were run with. */
function table() {
  const ran: { name: string; input: CommandInput }[] = [];
  const command = (name: string, extra: Partial<CliCommand> = {}): CliCommand => ({
    name,
    summary: `the ${name} command`,
    async run(input) {
      ran.push({ name, input });
    },
    ...extra,
  });
  const commands = [
    command("show", { positionals: ["id"], json: true }),
    command("move", {
      options: { to: { type: "string", value: "<N>", help: "where to" }, quiet: { type: "boolean", short: "q", help: "say less" } },
    }),
    command("box list", { json: true }),
    command("box take", { positionals: ["seq"] }),
    command("fail", {
      async run() {
        throw new CliError("it went wrong:\n  twice");
      },
    }),
  ];
  return { commands, ran };
}

function buffers(isTTY = false) {
  const out = { text: "", isTTY, write: (s: string) => (out.text += s) };
  const err = { text: "", write: (s: string) => (err.text += s) };
  return { out, err, io: { stdout: out, stderr: err, env: {} } };
}

async function run(argv: string[], commands: readonly CliCommand[] = table().commands) {
  const { out, err, io } = buffers();
  const code = await runCommandLine(commands, argv, io, ABOUT);
  return { code, stdout: out.text, stderr: err.text };
}

describe("parseCommandLine", () => {
  it("given a command with a positional, when called with it and --json, then runs it with both", () => {
    const parsed = parseCommandLine(table().commands, ["show", "42", "--json"], ENV_HELP);
    expect(parsed).toMatchObject({ kind: "run", command: { name: "show" }, input: { positionals: ["42"], json: true, values: {} } });
  });

  it("given two-word commands, when the first word and the second match, then the longer name wins", () => {
    const parsed = parseCommandLine(table().commands, ["box", "take", "7"], ENV_HELP);
    expect(parsed).toMatchObject({ kind: "run", command: { name: "box take" }, input: { positionals: ["7"], json: false } });
  });

  it("given options, when given long and short forms, then they are parsed by name", () => {
    const parsed = parseCommandLine(table().commands, ["move", "--to", "3", "-q"], ENV_HELP);
    expect(parsed).toMatchObject({ kind: "run", input: { values: { to: "3", quiet: true }, positionals: [] } });
  });

  it.each([
    [["show"], /^show needs <id> \(see orderstream show --help\)$/],
    [["show", "1", "2"], /^show: unexpected argument "2"/],
    [["move", "--too", "3"], /^move: Unknown option '--too' \(see orderstream move --help\)$/],
    [["move", "--to"], /^move: Option '--to <value>' argument missing/],
    [["move", "--json"], /^move: Unknown option '--json'/],
    [["box", "take", "1", "--json"], /^box take: Unknown option '--json'/],
    [["nope"], /^unknown command "nope" \(orderstream --help lists the commands\)$/],
    [["box"], /^box needs a subcommand: list, take/],
    [["box", "open"], /^unknown command "box open": box takes list, take$/],
    [[], /^no command given$/],
    [["--bogus"], /^unknown option "--bogus" before the command/],
    [["--version", "show"], /^unknown option "--version" before the command/],
    [["help", "nope"], /^unknown command "nope"/],
  ])("given %j, then it is a usage error saying why", (argv, reason) => {
    expect(() => parseCommandLine(table().commands, argv, ENV_HELP)).toThrowError(reason);
    expect(() => parseCommandLine(table().commands, argv, ENV_HELP)).toThrowError(CliUsageError);
  });

  it.each([[["--version"]], [["-V"]]])("given %j alone, then the version is asked for", (argv) => {
    expect(parseCommandLine(table().commands, argv, ENV_HELP)).toEqual({ kind: "version" });
  });

  it.each([[["--help"]], [["-h"]], [["help"]]])("given %j, then the usage lists every command", (argv) => {
    const parsed = parseCommandLine(table().commands, argv, ENV_HELP);
    expect(parsed.kind).toBe("help");
    const text = (parsed as { text: string }).text;
    for (const name of ["show <id> [--json]", "move [options]", "box list [--json]", "box take <seq>"]) expect(text).toContain(name);
    expect(text).toContain("show, box list take --json");
    expect(text).toContain(ENV_HELP);
    expect(text).toMatch(/exit codes: 0 success \(and --help, --version\), 1 failure[\s\S]*2 usage error/);
    expect(text).toContain("orderstream --help | --version");
  });

  it.each([[["move", "--help"]], [["move", "-h"]], [["help", "move"]], [["move", "--to", "x", "--help"]]])(
    "given %j, then the command's help: usage, options with their values, exit codes",
    (argv) => {
      const parsed = parseCommandLine(table().commands, argv, ENV_HELP);
      expect(parsed.kind).toBe("help");
      const text = (parsed as { text: string }).text;
      expect(text.split("\n")[0]).toBe("usage: orderstream move [options]");
      expect(text).toMatch(/--to <N> +where to/);
      expect(text).toMatch(/-q, --quiet +say less/);
      expect(text).toMatch(/-h, --help +this help/);
      expect(text).not.toContain("--json");
      expect(text).toMatch(/exit codes:/);
    },
  );

  it("given a group's --help (or help for it), then each of its commands' help", () => {
    for (const argv of [
      ["box", "--help"],
      ["help", "box"],
    ]) {
      const parsed = parseCommandLine(table().commands, argv, ENV_HELP);
      expect(parsed.kind).toBe("help");
      expect((parsed as { text: string }).text).toMatch(/usage: orderstream box list \[--json\][\s\S]*usage: orderstream box take <seq>/);
    }
  });

  it("given --help on a command that needs a positional, then help rather than an error", () => {
    expect(parseCommandLine(table().commands, ["show", "--help"], ENV_HELP).kind).toBe("help");
  });
});

describe("runCommandLine", () => {
  it("answers 0 for a command that succeeds, and runs it once", async () => {
    const { commands, ran } = table();
    expect(await run(["box", "list", "--json"], commands)).toEqual({ code: 0, stdout: "", stderr: "" });
    expect(ran).toEqual([{ name: "box list", input: { values: {}, positionals: [], json: true } }]);
  });

  it("answers 0 and prints help on stdout", async () => {
    const result = await run(["show", "--help"]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^usage: orderstream show <id> \[--json\]\n/);
    expect(result.stderr).toBe("");
  });

  it.each([[["--version"]], [["-V"]]])("answers 0 and prints the version alone on stdout for %j", async (argv) => {
    expect(await run(argv)).toEqual({ code: 0, stdout: "9.8.7\n", stderr: "" });
  });

  it("answers 1 with one line on stderr for a command that fails", async () => {
    const result = await run(["fail"]);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe("");
    expect(result.stderr).toMatch(/^orderstream: [^\n]+\n$/);
  });

  it.each([
    [[], "usage: orderstream <command>"],
    [["nope"], "usage: orderstream <command>"],
    [["-x"], "usage: orderstream <command>"],
    [["help", "nope"], "usage: orderstream <command>"],
    [["show"], "usage: orderstream show <id> [--json]"],
    [["show", "1", "2"], "usage: orderstream show <id> [--json]"],
    [["move", "--bad"], "usage: orderstream move [options]"],
    [["box"], "usage: orderstream box list [--json]"],
    [["box", "open"], "usage: orderstream box list [--json]"],
  ])("answers 2 for the usage error %j: the reason, then the usage on stderr, nothing on stdout", async (argv, usage) => {
    const result = await run(argv);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe("");
    const [reason, blank, ...rest] = result.stderr.split("\n");
    expect(reason).toMatch(/^orderstream: \S/);
    expect(blank).toBe("");
    expect(rest.join("\n")).toMatch(new RegExp(`^${usage.replace(/[[\]]/g, "\\$&")}`));
  });

  it("answers 2 with the command's usage when the command itself finds an argument wrong", async () => {
    const picky: CliCommand = {
      name: "picky",
      positionals: ["n"],
      summary: "",
      run: () => Promise.reject(new CliUsageError("<n> must be a number")),
    };
    const result = await run(["picky", "x"], [picky]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^orderstream: <n> must be a number\n\nusage: orderstream picky <n>\n/);
  });

  it("puts a multi-line reason on one line", async () => {
    expect((await run(["fail"])).stderr).toBe("orderstream: it went wrong: twice\n");
  });

  it("answers 1 for an unexpected error too, with its message", async () => {
    const boom: CliCommand = { name: "boom", summary: "", run: () => Promise.reject(new TypeError("x is undefined")) };
    expect(await run(["boom"], [boom])).toEqual({ code: 1, stdout: "", stderr: "orderstream: x is undefined\n" });
  });
});

describe("the commands table", () => {
  it("has --json on every read command and not on the others", () => {
    const readers = COMMANDS.filter((c) => c.json).map((c) => c.name);
    expect(readers).toEqual(["events", "trace", "logs", "dlq list", "rebuild-view"]);
  });

  it("has a summary, a description and a help text that parses for every command", () => {
    for (const command of COMMANDS) {
      expect(command.summary, command.name).not.toBe("");
      expect(command.description, command.name).toBeTruthy();
      const help = renderCommandHelp(command);
      expect(help.split("\n")[0], command.name).toMatch(new RegExp(`^usage: orderstream ${command.name}`));
      const parsed = parseCommandLine(COMMANDS, [...command.name.split(" "), "--help"], ENV_HELP);
      expect(parsed, command.name).toEqual({ kind: "help", text: help });
    }
  });

  it("checks replay's and the order commands' arguments before connecting anywhere: a usage error, exit 2", async () => {
    const cases: [string[], RegExp][] = [
      [["replay", "--from-seq", "1"], /replay needs --consumer/],
      [["replay", "--consumer", "payment"], /replay needs --from-seq <N> or --from-time <ISO>/],
      [["replay", "--consumer", "payment", "--from-seq", "0"], /--from-seq must be a stream sequence ≥ 1/],
      [["replay", "--consumer", "payment", "--from-time", "yesterday"], /--from-time must be an ISO date/],
      [["replay", "--consumer", "payment", "--from-seq", "1", "--from-time", "2026-01-01T00:00:00Z"], /not both/],
      [["events", "not-an-id"], /"not-an-id" is not an order id/],
      [["trace", "ABC", "--json"], /"ABC" is not an order id/],
      [["dlq", "retry", "x"], /dlq retry needs the ORDERS stream sequence/],
    ];
    for (const [argv, reason] of cases) {
      const result = await run(argv, COMMANDS);
      expect(result.code, argv.join(" ")).toBe(2);
      expect(result.stderr, argv.join(" ")).toMatch(reason);
      expect(result.stderr, argv.join(" ")).toContain(`usage: orderstream ${argv[0] === "dlq" ? "dlq retry" : argv[0]}`);
    }
  });
});
