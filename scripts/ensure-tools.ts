/**
 * `node --import tsx scripts/ensure-tools.ts [--exact] [--optional name…] [name…]`: makes sure the
 * named tools (nats-server, natscli, jaeger, victoria-logs; all when none is named) are there,
 * building the missing ones with Go (scripts/tools.ts). `--exact` wants the pinned versions of
 * scripts/versions.ts at the build target (what .ci/run asks for); tools after `--optional` only warn
 * when they cannot be had. Exit 1, with the reason on stderr, when a required one is missing.
 */
import { ensureTool, TOOLS, ToolMissingError, type ToolName } from "./tools.ts";

const argv = process.argv.slice(2);
const exact = argv.includes("--exact");
const required: ToolName[] = [];
const optional: ToolName[] = [];
let into = required;
for (const arg of argv) {
  if (arg === "--exact") continue;
  if (arg === "--optional") {
    into = optional;
    continue;
  }
  if (!(arg in TOOLS)) {
    console.error(`ensure-tools: unknown tool ${arg}; one of ${Object.keys(TOOLS).join(", ")}.`);
    process.exit(2);
  }
  into.push(arg as ToolName);
}
if (required.length + optional.length === 0) required.push(...(Object.keys(TOOLS) as ToolName[]));

let failed = false;
for (const tool of [...required, ...optional]) {
  try {
    const path = await ensureTool(tool, { exact, log: (line) => console.log(`ensure-tools: ${line}`) });
    console.log(`ensure-tools: ${tool} ${path}`);
  } catch (err) {
    if (!(err instanceof ToolMissingError)) throw err;
    const isRequired = required.includes(tool);
    console.error(`ensure-tools: ${isRequired ? "" : "warning: "}${err.message}`);
    failed ||= isRequired;
  }
}
process.exit(failed ? 1 : 0);
