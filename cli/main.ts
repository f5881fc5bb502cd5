/**
 * `npm run cli -- <command>` (also `npx orderstream <command>`, `node dist/cli.mjs` in the image):
 * operators' commands, listed in cli/commands.ts. `orderstream --help` lists them,
 * `orderstream <command> --help` explains one; read commands take `--json`.
 * Exit code 0 on success (and for help, `--version`), 1 with a one-line reason on stderr on failure,
 * 2 with the usage on stderr for a usage error (cli/command.ts).
 */
// The version is package.json's, bundled into dist/cli.mjs by esbuild like any JSON import.
import pkg from "../package.json" with { type: "json" };
import { runCommandLine } from "./command.ts";
import { COMMANDS } from "./commands.ts";
import { ENV_HELP } from "./session.ts";

// `orderstream events <id> --json | head`: the reader going away is not our failure.
process.stdout.on("error", (err: NodeJS.ErrnoException) => process.exit(err.code === "EPIPE" ? 0 : 1));

const code = await runCommandLine(
  COMMANDS,
  process.argv.slice(2),
  { stdout: process.stdout, stderr: process.stderr, env: process.env },
  { envHelp: ENV_HELP, version: pkg.version },
);
// Open NATS sockets or timers must not keep the process alive; let stdout drain first (a pipe may be slow).
process.stdout.write("", () => process.exit(code));
