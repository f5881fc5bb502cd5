// compose.auth.yaml (the NATS-auth override) checked without a Docker engine: valid against the
// Compose Specification on its own, and consistent with compose.yaml and the auth config.
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Ajv } from "ajv";
import * as ajvFormats from "ajv-formats";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { ADMIN, natsUserOf } from "../nats/auth/auth-config.ts";
import { SERVICES } from "../nats/subjects.ts";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
type Dict = Record<string, any>;
const load = (file: string): Dict => parse(readFileSync(join(root, file), "utf8"), { merge: true });
type FormatsPlugin = (ajv: Ajv) => Ajv;
const addFormats: FormatsPlugin =
  (ajvFormats as unknown as { default?: FormatsPlugin }).default ?? (ajvFormats as unknown as FormatsPlugin);

describe("compose.auth.yaml", () => {
  const override = load("compose.auth.yaml");
  const base = load("compose.yaml");

  it("is valid against the Compose Specification schema", () => {
    const schema = JSON.parse(readFileSync(join(root, "test/fixtures/compose/compose-spec.json"), "utf8"));
    const ajv = new Ajv({ allErrors: true, strict: false });
    addFormats(ajv);
    const draft7 = ajv.getSchema("http://json-schema.org/draft-07/schema")?.schema as Dict;
    if (!ajv.getSchema(schema.$schema)) ajv.addMetaSchema({ ...draft7, $id: schema.$schema });
    const validate = ajv.compile(schema);
    const ok = validate(override);
    expect((validate.errors ?? []).map((e) => `${e.instancePath} ${e.message}`)).toEqual([]);
    expect(ok).toBe(true);
  });

  it("only overrides services compose.yaml defines, and its config file exists", () => {
    for (const name of Object.keys(override.services)) expect(Object.keys(base.services), name).toContain(name);
    for (const [key, def] of Object.entries(override.configs as Dict)) expect(existsSync(join(root, def.file)), key).toBe(true);
    for (const c of override.services.nats.configs) expect(Object.keys({ ...base.configs, ...override.configs })).toContain(c.source);
    const target = override.services.nats.configs[0].target;
    expect(override.services.nats.command.join(" ")).toContain(`--config ${target}`);
  });

  it("gives the server every password the auth config refers to, and each service its own user", () => {
    const conf = readFileSync(join(root, override.configs["nats-server-auth"].file), "utf8");
    const referenced = [...conf.matchAll(/password:\s*\$(\w+)/g)].map((m) => m[1]).sort();
    expect(Object.keys(override.services.nats.environment).sort()).toEqual(referenced);
    expect(referenced).toContain(ADMIN.passwordVar);
    for (const service of SERVICES) {
      const env = override.services[service].environment;
      const { user, passwordVar } = natsUserOf(service);
      expect(env.NATS_USER).toBe(user);
      // Required from the host (compose stops with the message when unset); never a literal.
      expect(env.NATS_PASSWORD).toBe(`\${${passwordVar}:?${passwordVar} is not set}`);
    }
    expect(readFileSync(join(root, "compose.auth.yaml"), "utf8")).not.toMatch(/^\s*\w*PASSWORD:[ \t]*(?!\$\{)\S/m);
  });
});
