// schemathesis against the live API with the API's own OpenAPI document: the order service (once
// open, once behind ORDER_API_TOKEN) and the notification service run as real processes on a real
// nats-server, and `st run <service>/openapi.json --checks all` fuzzes every operation — examples
// at the schemas' edges (coverage), generated valid and invalid requests (fuzzing), and chains that
// follow the document's links from a created order (stateful). Every check runs; the one exception
// and its reason are in test/schemathesis.toml. Bounded: a fixed number of examples per operation
// and a hard time limit per run. A missing `st` fails the file with how to install it.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startNatsServer, type NatsServerHandle } from "./support/nats-server.ts";
import { REPO_ROOT, startService, type ServiceProcess } from "./support/processes.ts";
import { findSchemathesis, runSchemathesis, SCHEMATHESIS_INSTALL_HINT } from "./support/schemathesis.ts";

/** Examples per operation and phase (SCHEMATHESIS_MAX_EXAMPLES scales a local run up). */
const MAX_EXAMPLES = Number(process.env.SCHEMATHESIS_MAX_EXAMPLES ?? "50");
/** A run that has not finished by then is stopped and fails (each takes 5-10 s on 2 cores). */
const RUN_LIMIT_MS = 60_000;
const TOKEN = "st-token";

let st: string | null;
let nats: NatsServerHandle;
let order: ServiceProcess;
let guarded: ServiceProcess;
let notification: ServiceProcess;

beforeAll(async () => {
  st = findSchemathesis();
  if (!st) return;
  nats = await startNatsServer();
  // An unreachable Jaeger answers at once: /trace degrades to its warning.
  const env = { NATS_URL: nats.url, JAEGER_QUERY_URL: "http://127.0.0.1:9", LOG_LEVEL: "warn" };
  [order, guarded, notification] = await Promise.all([
    startService("order", env),
    startService("order", { ...env, ORDER_API_TOKEN: TOKEN }),
    startService("notification", env),
  ]);
}, 90_000);

afterAll(async () => {
  await Promise.all([order, guarded, notification].filter(Boolean).map((s) => s.stop()));
  await nats?.stop();
});

/** Runs schemathesis against a service; fails with its report of what it found. */
async function fuzz(service: ServiceProcess, extra: string[] = []): Promise<string> {
  expect(st, SCHEMATHESIS_INSTALL_HINT).not.toBeNull();
  const seed = process.env.SCHEMATHESIS_SEED ? ["--seed", process.env.SCHEMATHESIS_SEED] : [];
  const args = [
    "--config-file",
    "test/schemathesis.toml",
    "run",
    `${service.baseUrl}/openapi.json`,
    "--checks",
    "all",
    "--max-examples",
    String(MAX_EXAMPLES),
    "--continue-on-failure",
    "--request-timeout",
    "10",
    "--no-color",
    ...seed,
    ...extra,
  ];
  const run = await runSchemathesis(st!, args, RUN_LIMIT_MS, REPO_ROOT);
  // Its report from the failures on, each line cut short (a reproduced body can be 64 KiB).
  const report = run.output
    .slice(Math.max(0, run.output.search(/={5,} (FAILURES|WARNINGS|SUMMARY)/)))
    .split("\n")
    .map((line) => (line.length > 600 ? `${line.slice(0, 600)} …` : line))
    .join("\n")
    .slice(0, 20_000);
  expect(run.timedOut, `schemathesis did not finish within ${RUN_LIMIT_MS / 1000} s:\n${run.output.slice(-4000)}`).toBe(false);
  expect(run.code, `schemathesis found problems (st ${args.join(" ")}):\n${report}`).toBe(0);
  // It did test: operations selected, cases generated, none failed.
  expect(run.output).toMatch(/Tested: [1-9]/);
  expect(run.output).toMatch(/\b[1-9]\d* generated, [1-9]\d* passed/);
  // And neither service logged an error it did not handle.
  expect(service.output()).not.toMatch(/unhandled error in a route|"level":(50|60)/);
  return run.output;
}

describe("schemathesis against the live API and its own OpenAPI document", () => {
  it("finds nothing in the order API", async () => {
    const output = await fuzz(order);
    // All eleven operations but the OpenAPI document itself (/asyncapi.json included), and the stateful phase followed the links.
    expect(output).toMatch(/Tested: 11\b/);
    expect(output).toMatch(/Stateful/);
  }, 90_000);

  it("finds nothing in the order API behind ORDER_API_TOKEN (and every route asks for the token)", async () => {
    // `ignored_auth` sends each request without the token too: it must be 401.
    await fuzz(guarded, ["-H", `Authorization: Bearer ${TOKEN}`]);
  }, 90_000);

  it("finds nothing in the notification API", async () => {
    const output = await fuzz(notification);
    expect(output).toMatch(/Tested: 6\b/);
  }, 90_000);
});
