// The reference pages in docs/reference/ are what the code says: the committed pages are exactly
// what `npm run docs` generates, and the one table of environment variables (shared/env-vars.ts)
// holds every variable the code reads, with the defaults the code uses.
import { readdirSync, readFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { ENV_VARS, type EnvVar } from "../../shared/env-vars.ts";
import { DEFAULT_HOST, DEFAULT_HUB_DOMAIN, DEFAULT_PORTS, DEFAULT_VICTORIA_LOGS_URL, loadConfig } from "../../shared/config.ts";
import { DEFAULT_MAX_BUFFERED_LINES } from "../../shared/log-shipper.ts";
import { DEFAULT_NOTIFICATIONS_MAX_AGE_MS, STREAM_COMPRESSION } from "../../nats/definitions.ts";
import { DEFAULT_SYNC_INTERVAL } from "../local-nats-config.ts";
import { generateReference, REFERENCE_DIR } from "./index.ts";
import { anchorsOf, githubSlug, table } from "./markdown.ts";

const root = resolve(fileURLToPath(new URL("../..", import.meta.url)));

describe("docs/reference", () => {
  it("is what npm run docs generates from the code (else: run npm run docs and commit docs/reference)", async () => {
    const pages = await generateReference();
    const dir = join(root, REFERENCE_DIR);
    expect(readdirSync(dir).sort(), "run npm run docs: docs/reference has other pages than it generates").toEqual(
      Object.keys(pages).sort(),
    );
    for (const [name, text] of Object.entries(pages)) {
      expect(readFileSync(join(dir, name), "utf8"), `${REFERENCE_DIR}/${name} differs from the code: run npm run docs`).toBe(text);
    }
  });
});

/** Source files the project runs (specs, the benchmarks' own knobs, fixtures and dependencies left out). */
function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory())
      return ["node_modules", "dist", "test", "bench", ".git", ".data", "fixtures"].includes(entry.name) ? [] : sourceFiles(path);
    return /\.ts$/.test(entry.name) && !/\.spec\.ts$/.test(entry.name) ? [path] : [];
  });
}

/** nats-server configuration files. */
function configFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? configFiles(join(dir, entry.name)) : entry.name.endsWith(".conf") ? [join(dir, entry.name)] : [],
  );
}

/** Variables the code reads that are not settings: the OS's, Go's, and a test hook. */
const NOT_SETTINGS = new Set(["PATH", "HOME", "GOBIN", "GOPATH", "GOROOT", "OTEL_DENO", "ORDERSTREAM_TEST_CRASH_ON"]);

describe("the table of environment variables", () => {
  it("names every variable the code reads", () => {
    const read = new Map<string, string>();
    const patterns = [
      /\benv\.([A-Z][A-Z0-9_]+)\b/g,
      /\benv\[["']([A-Z][A-Z0-9_]+)["']\]/g,
      /\b(?:get\w*FromEnv|\w+Var|optional|httpUrl|rawVar|envDefault)\((?:env, )?["']([A-Z][A-Z0-9_]+)["']/g,
      /executableCandidates\([^)]*?["']([A-Z][A-Z0-9_]+_BIN)["']/g,
    ];
    // nats-server configs read variables as `$NAME` ($JS.…, $KV.… are subjects, not variables).
    for (const file of configFiles(join(root, "nats"))) {
      for (const [, name] of readFileSync(file, "utf8").matchAll(/(?<![\w.])\$([A-Z][A-Z0-9_]+)\b(?!\.)/g))
        read.set(name!, relative(root, file));
    }
    for (const file of sourceFiles(root)) {
      const text = readFileSync(file, "utf8");
      for (const pattern of patterns) for (const [, name] of text.matchAll(pattern)) read.set(name!, relative(root, file));
    }
    // The scan finds what it is meant to: settings read in each of its ways.
    for (const name of ["NATS_URL", "PAYMENT_LIMIT", "OTEL_LOG_LEVEL", "NATS_SERVER_BIN", "NATS_SYNC_INTERVAL", "HUB_LEAF_URL"])
      expect(read.has(name), name).toBe(true);
    // OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT's row speaks for every OpenTelemetry span limit.
    const covered = (name: string) => name in ENV_VARS || NOT_SETTINGS.has(name) || /^OTEL_\w+_LIMIT$/.test(name);
    const missing = [...read].filter(([name]) => !covered(name)).map(([n, file]) => `${n} (${file})`);
    expect(missing, "add these to shared/env-vars.ts").toEqual([]);
  });

  it("states the defaults the code uses", () => {
    const config = loadConfig("payment", {});
    const entry = (name: keyof typeof ENV_VARS): EnvVar => ENV_VARS[name];
    expect(config.natsServers).toEqual([entry("NATS_URL").default]);
    expect(String(config.paymentLimit)).toBe(entry("PAYMENT_LIMIT").default);
    expect(config.jaegerQueryUrl).toBe(entry("JAEGER_QUERY_URL").default);
    expect(entry("VICTORIA_LOGS_QUERY_URL").defaultText).toContain(DEFAULT_VICTORIA_LOGS_URL);
    expect(config.notificationsMaxAgeMs).toBe(DEFAULT_NOTIFICATIONS_MAX_AGE_MS);
    expect(entry("VICTORIA_LOGS_BUFFER_LINES").default).toBe(String(DEFAULT_MAX_BUFFERED_LINES));
    expect(entry("STREAM_COMPRESSION").defaultText).toContain(`\`${STREAM_COMPRESSION}\``);
    expect(DEFAULT_HOST).toBe(entry("HOST").default);
    expect(entry("NATS_SYNC_INTERVAL").default).toBe(DEFAULT_SYNC_INTERVAL);
    expect(loadConfig("shipping", {}).unavailableSkus).toEqual([entry("SHIPPING_UNAVAILABLE_SKUS").default]);
    expect(loadConfig("shipping", { SHIPPING_UNAVAILABLE_SKUS: "" }).unavailableSkus).toEqual([]);
    expect(DEFAULT_HUB_DOMAIN).toBe(entry("HUB_DOMAIN").default);
    for (const [service, port] of Object.entries(DEFAULT_PORTS)) {
      expect(entry("PORT").defaultText).toContain(`${port} ${service}`);
      expect(entry(`${service.toUpperCase()}_PORT` as keyof typeof ENV_VARS).default).toBe(String(port));
    }
  });
});

describe("the README's configuration table", () => {
  it("names only variables of the one table, so its short list cannot drift from the reference", () => {
    const readme = readFileSync(join(root, "README.md"), "utf8");
    const section = readme.slice(readme.indexOf("## Configuration"), readme.indexOf("\n## ", readme.indexOf("## Configuration") + 1));
    const names = [...section.matchAll(/^\| ([^|]+) \|/gm)].flatMap(([, first]) =>
      [...first!.matchAll(/`([A-Z][A-Z0-9_]+)`/g)].map((m) => m[1]!),
    );
    expect(names.length).toBeGreaterThan(20);
    expect(names.filter((n) => !(n in ENV_VARS))).toEqual([]);
  });
});

describe("markdown helpers", () => {
  it("given headings, when anchored, then as GitHub does: repeats numbered, code fences skipped", () => {
    const text = [
      "# The cancel race",
      "## `GET /orders/{orderId}`",
      "```bash",
      "# not a heading",
      "```",
      "## Security",
      "## Security",
      '<a id="explicit"></a>',
      "### Sizing the store (ORDERS_MAX_BYTES)",
    ].join("\n");
    expect([...anchorsOf(text)]).toEqual([
      "the-cancel-race",
      "get-ordersorderid",
      "security",
      "security-1",
      "explicit",
      "sizing-the-store-orders_max_bytes",
    ]);
    expect(githubSlug("WebSocket vs TCP (`--ws`)")).toBe("websocket-vs-tcp---ws");
  });

  it("given cells with pipes and newlines, when tabled, then each row stays one line", () => {
    expect(table(["a", "b"], [["x | y", "one\ntwo"]])).toBe("| a | b |\n| --- | --- |\n| x \\| y | one two |");
  });
});
