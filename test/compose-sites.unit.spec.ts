// compose.sites.yaml (the `sites` profile: a hub and two sites in containers) checked without a Docker
// engine: valid against the Compose Specification, and wired as README "Sites" says.
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Ajv } from "ajv";
import * as ajvFormats from "ajv-formats";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { loadTopology } from "../shared/config.ts";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
type Dict = Record<string, any>;
const load = (file: string): Dict => parse(readFileSync(join(root, file), "utf8"), { merge: true });
type FormatsPlugin = (ajv: Ajv) => Ajv;
const addFormats: FormatsPlugin =
  (ajvFormats as unknown as { default?: FormatsPlugin }).default ?? (ajvFormats as unknown as FormatsPlugin);

describe("compose.sites.yaml", () => {
  const compose = load("compose.sites.yaml");
  const services = compose.services as Record<string, Dict>;

  it("is valid against the Compose Specification schema", () => {
    const schema = JSON.parse(readFileSync(join(root, "test/fixtures/compose/compose-spec.json"), "utf8"));
    const ajv = new Ajv({ allErrors: true, strict: false });
    addFormats(ajv);
    const draft7 = ajv.getSchema("http://json-schema.org/draft-07/schema")?.schema as Dict;
    if (!ajv.getSchema(schema.$schema)) ajv.addMetaSchema({ ...draft7, $id: schema.$schema });
    const validate = ajv.compile(schema);
    const ok = validate(compose);
    expect((validate.errors ?? []).map((e) => `${e.instancePath} ${e.message}`)).toEqual([]);
    expect(ok).toBe(true);
  });

  it("puts every service in the `sites` profile, and its config files, volumes and dependencies exist", () => {
    for (const [name, s] of Object.entries(services)) {
      expect(s.profiles, name).toEqual(["sites"]);
      for (const c of s.configs ?? []) expect(existsSync(join(root, compose.configs[c.source].file)), c.source).toBe(true);
      for (const v of s.volumes ?? []) expect(Object.keys(compose.volumes), v).toContain(v.split(":")[0]);
      for (const d of Object.keys(s.depends_on ?? {})) expect(Object.keys(services), `${name} → ${d}`).toContain(d);
    }
  });

  it("sets for each nats-server every $VARIABLE its config file references (nats-server refuses to start without one)", () => {
    for (const [name, s] of Object.entries(services)) {
      for (const c of s.configs ?? []) {
        const conf = readFileSync(join(root, compose.configs[c.source].file), "utf8").replace(/#.*$/gm, "");
        // A variable is a bare `$NAME` value; "$KV.>" and the like in quotes are subjects.
        const vars = [...conf.matchAll(/[:=]\s*\$([A-Z][A-Z0-9_]*)\s*$/gm)].map((m) => m[1]!);
        expect(vars.length, c.source).toBeGreaterThan(0);
        for (const v of vars) expect(Object.keys(s.environment ?? {}), `${name}: ${v}`).toContain(v);
      }
    }
  });

  it("runs each site's order service against its own leaf server, with SITE = the server's domain, and the hub's against the hub", () => {
    const sitesOfHub = new Set<string>();
    for (const [name, s] of Object.entries(services)) {
      const env = s.environment as Dict | undefined;
      if (!env?.NATS_URL) continue;
      const server = new URL(env.NATS_URL).hostname;
      const topology = loadTopology(s.command[0], env);
      if (topology.kind === "site") {
        expect(server, name).toBe(`${topology.site}-nats`);
        expect(services[server]!.environment.SITE, name).toBe(topology.site);
      } else {
        expect(topology.kind, name).toBe("hub");
        expect(server, name).toBe("hub-nats");
        if (topology.kind === "hub") for (const site of topology.sites) sitesOfHub.add(site);
      }
    }
    // Every site the hub serves has a server and an order service; every site server links to the hub's leaf listeners.
    for (const site of sitesOfHub) {
      const env = services[`${site}-nats`]!.environment as Dict;
      const url = new URL(env.HUB_LEAF_URL);
      expect(url.hostname).toBe("hub-nats");
      const hubEnv = services["hub-nats"]!.environment as Dict;
      expect([hubEnv.HUB_LEAF_PORT, hubEnv.HUB_WS_PORT]).toContain(url.port);
      expect(url.protocol === "ws:" ? hubEnv.HUB_WS_PORT : hubEnv.HUB_LEAF_PORT).toBe(url.port);
    }
    expect([...sitesOfHub].sort()).toEqual(["edge1", "edge2"]);
    // One of them over WebSocket.
    expect(Object.values(services).some((s) => String(s.environment?.HUB_LEAF_URL ?? "").startsWith("ws://"))).toBe(true);
  });
});
