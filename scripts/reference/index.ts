/**
 * The reference pages in docs/reference/, made from the code: the OpenAPI and AsyncAPI documents
 * the services serve (asked of each service's app in-process, before it connects to NATS), the
 * CLI's table of commands and the table of environment variables. `npm run docs` writes them
 * (scripts/generate-reference.ts); scripts/reference/reference.unit.spec.ts fails when the
 * committed pages differ.
 */
import { loadConfig } from "../../shared/config.ts";
import { createLogger } from "../../shared/logger.ts";
import { SERVICES, type ServiceName } from "../../shared/services.ts";
import { createService } from "../../host/service-host.ts";
import { serviceDefinitions } from "../../services/registry.ts";
import { COMMANDS } from "../../cli/commands.ts";
import { ENV_HELP } from "../../cli/session.ts";
import { renderHttpReference } from "./http.ts";
import { renderEventsReference } from "./events.ts";
import { renderCliReference } from "./cli.ts";
import { renderEnvironmentReference } from "./environment.ts";
import { generatedNote } from "./markdown.ts";

// biome-ignore lint/suspicious/noExplicitAny: OpenAPI and AsyncAPI documents, walked as plain JSON
type Json = Record<string, any>;

/** Where the pages go, from the repository's root. */
export const REFERENCE_DIR = "docs/reference";

/** A document a service serves, asked of its app without starting it (no NATS needed). */
async function servedDocument(name: ServiceName, path: string, env: Record<string, string> = {}): Promise<Json> {
  // An address nothing listens on: the app is never started, so it is never dialled.
  const config = loadConfig(name, { NATS_URL: "nats://127.0.0.1:9", ...env });
  const { app } = createService({ definition: serviceDefinitions[name], config, log: createLogger(`${name}-service`, "silent") });
  const res = await app.request(path);
  if (res.status !== 200) throw new Error(`the ${name} service answered ${path} with ${res.status}`);
  return (await res.json()) as Json;
}

async function documents(path: string): Promise<Record<ServiceName, Json>> {
  const entries = await Promise.all(SERVICES.map(async (name) => [name, await servedDocument(name, path)] as const));
  return Object.fromEntries(entries) as Record<ServiceName, Json>;
}

function indexPage(): string {
  return [
    generatedNote("scripts/reference/index.ts"),
    "",
    "# Reference",
    "",
    "What the system offers from outside, generated from the code that implements it (`npm run docs`; a unit spec fails when these pages and the code disagree).",
    "",
    "| page | what | made from |",
    "| --- | --- | --- |",
    "| [HTTP API](http-api.md) | every route of the four services: parameters, bodies, answers, errors | the OpenAPI documents (`GET /openapi.json`) |",
    "| [Events](events.md) | the event types, their subjects, headers and fields; who sends and receives each | the AsyncAPI documents (`GET /asyncapi.json`) |",
    "| [Command line](cli.md) | `orderstream` commands, options, `--json` output, exit codes | cli/commands.ts |",
    "| [Environment](environment.md) | every environment variable: default and meaning | shared/env-vars.ts |",
    "",
  ].join("\n");
}

/** Every page: its file name within REFERENCE_DIR, and its Markdown. */
export async function generateReference(): Promise<Record<string, string>> {
  const [openapi, asyncapi, orderWithToken] = await Promise.all([
    documents("/openapi.json"),
    documents("/asyncapi.json"),
    servedDocument("order", "/openapi.json", { ORDER_API_TOKEN: "token" }),
  ]);
  return {
    "README.md": indexPage(),
    "http-api.md": renderHttpReference({ documents: openapi, orderWithToken }),
    "events.md": renderEventsReference(asyncapi),
    "cli.md": renderCliReference({ commands: COMMANDS, envHelp: ENV_HELP }),
    "environment.md": renderEnvironmentReference(),
  };
}
