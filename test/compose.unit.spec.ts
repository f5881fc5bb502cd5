// compose.yaml checked without a Docker engine: schema validation against the Compose Specification
// (draft-07, vendored in test/fixtures/compose) plus the cross-references Compose itself would resolve.
import { existsSync, readFileSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Ajv, type ErrorObject, type ValidateFunction } from "ajv";
import * as ajvFormats from "ajv-formats";
import { parse } from "yaml";
import { beforeAll, describe, expect, it } from "vitest";
import { compareVersions, MIN_SERVER_VERSION } from "../nats/server-version.ts";
import { VICTORIA_LOGS_VERSION } from "../scripts/observability.ts";
import { DEFAULT_PORTS } from "../shared/config.ts";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const specPath = join(root, "test/fixtures/compose/compose-spec.json");
const composePath = join(root, "compose.yaml");

type Dict = Record<string, unknown>;
type Service = Dict & {
  build?: string | { context?: string; dockerfile?: string; target?: string };
  depends_on?: string[] | Record<string, Dict>;
  volumes?: (string | { type?: string; source?: string })[];
  configs?: (string | { source: string })[];
  secrets?: (string | { source: string })[];
  networks?: string[] | Record<string, unknown>;
  environment?: string[] | Record<string, unknown>;
  ports?: (string | number | { published?: string | number; target?: number | string })[];
  healthcheck?: { test?: string | string[]; disable?: boolean | string };
  profiles?: string[];
};
type Compose = Dict & {
  name?: string;
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
  networks?: Record<string, unknown>;
  configs?: Record<string, { file?: string } | null>;
  secrets?: Record<string, { file?: string } | null>;
};

// ajv and ajv-formats are CommonJS; depending on the module resolution the plugin is the
// namespace itself or its `default`.
type FormatsPlugin = (ajv: Ajv) => Ajv;
const addFormats: FormatsPlugin =
  (ajvFormats as unknown as { default?: FormatsPlugin }).default ?? (ajvFormats as unknown as FormatsPlugin);

function makeValidator(): ValidateFunction {
  const schema = JSON.parse(readFileSync(specPath, "utf8")) as Dict & { $schema: string };
  // The third-party schema uses union types freely; strict mode would only log about them.
  const ajv = new Ajv({ allErrors: true, strict: false });
  addFormats(ajv);
  // The spec names draft-07 by its https URL; Ajv registers it under http://...#. Same meta-schema.
  const draft7 = ajv.getSchema("http://json-schema.org/draft-07/schema")?.schema as Dict | undefined;
  if (!draft7) throw new Error("ajv has no draft-07 meta-schema");
  if (!ajv.getSchema(schema.$schema)) ajv.addMetaSchema({ ...draft7, $id: schema.$schema });
  return ajv.compile(schema);
}

function loadCompose(text = readFileSync(composePath, "utf8")): Compose {
  // merge: true resolves the `<<: *service` / `<<: *env` merge keys like Compose does.
  return parse(text, { merge: true }) as Compose;
}

const isNamedVolume = (src: string) => !/^[./~]/.test(src) && !src.startsWith("$");

/** Cross-reference problems Compose would report at `up` time (or silently get wrong). */
function crossReferenceErrors(doc: Compose): string[] {
  const errors: string[] = [];
  const services = doc.services ?? {};
  const names = new Set(Object.keys(services));
  const declared = (section?: Record<string, unknown> | null) => new Set(Object.keys(section ?? {}));
  const volumes = declared(doc.volumes);
  const networks = declared(doc.networks);
  const configs = declared(doc.configs);
  const secrets = declared(doc.secrets);

  for (const [name, svc] of Object.entries(services)) {
    const deps = Array.isArray(svc.depends_on) ? svc.depends_on : Object.keys(svc.depends_on ?? {});
    for (const dep of deps) if (!names.has(dep)) errors.push(`${name}: depends_on unknown service ${dep}`);

    for (const v of svc.volumes ?? []) {
      const src = typeof v === "string" ? (v.includes(":") ? v.split(":")[0] : undefined) : v.source;
      const type = typeof v === "string" ? undefined : v.type;
      if (!src) continue;
      if ((type === undefined || type === "volume") && isNamedVolume(src)) {
        if (!volumes.has(src)) errors.push(`${name}: volume ${src} is not declared`);
      } else if (type === undefined || type === "bind") {
        if (!existsSync(resolve(root, src))) errors.push(`${name}: bind mount ${src} does not exist`);
      }
    }

    const nets = Array.isArray(svc.networks) ? svc.networks : Object.keys(svc.networks ?? {});
    for (const n of nets) if (n !== "default" && !networks.has(n)) errors.push(`${name}: network ${n} is not declared`);

    for (const c of svc.configs ?? []) {
      const src = typeof c === "string" ? c : c.source;
      if (!configs.has(src)) errors.push(`${name}: config ${src} is not declared`);
    }
    for (const s of svc.secrets ?? []) {
      const src = typeof s === "string" ? s : s.source;
      if (!secrets.has(src)) errors.push(`${name}: secret ${src} is not declared`);
    }

    if (svc.build !== undefined) {
      const b = typeof svc.build === "string" ? { context: svc.build } : svc.build;
      const context = resolve(root, b.context ?? ".");
      const dockerfile = resolve(context, b.dockerfile ?? "Dockerfile");
      if (!existsSync(context) || !statSync(context).isDirectory()) {
        errors.push(`${name}: build context ${b.context} is not a directory`);
      } else if (!existsSync(dockerfile)) {
        errors.push(`${name}: Dockerfile ${b.dockerfile ?? "Dockerfile"} does not exist`);
      } else if (b.target) {
        const stages = [...readFileSync(dockerfile, "utf8").matchAll(/^FROM\s+\S+\s+AS\s+(\S+)/gim)].map((m) => m[1]);
        if (!stages.includes(b.target)) errors.push(`${name}: build target ${b.target} is not a Dockerfile stage`);
      }
    }
  }

  for (const [section, entries] of [
    ["configs", doc.configs],
    ["secrets", doc.secrets],
  ] as const) {
    for (const [key, def] of Object.entries(entries ?? {})) {
      if (def?.file && !existsSync(resolve(root, def.file))) errors.push(`${section}.${key}: file ${def.file} does not exist`);
    }
  }
  return errors;
}

/** Host ports a service binds that are one fixed number (so a second replica could not start). */
function fixedHostPorts(svc: Service): string[] {
  const fixed: string[] = [];
  for (const p of svc.ports ?? []) {
    let published: string | undefined;
    if (typeof p === "object") {
      published = p.published === undefined ? undefined : String(p.published);
    } else {
      // [ip:]host:container[/proto] or just container; IPv6 hosts are bracketed.
      const spec = String(p)
        .replace(/\/\w+$/, "")
        .replace(/^\[[^\]]*\]:/, "");
      const parts = spec.split(":");
      published = parts.length >= 2 ? parts[parts.length - 2] : undefined;
    }
    if (published !== undefined && published !== "" && !published.includes("-")) fixed.push(String(p));
  }
  return fixed;
}

function env(svc: Service): Record<string, string | null> {
  const e = svc.environment ?? {};
  if (Array.isArray(e)) {
    return Object.fromEntries(
      e.map((kv) => {
        const i = kv.indexOf("=");
        return i < 0 ? [kv, null] : [kv.slice(0, i), kv.slice(i + 1)];
      }),
    );
  }
  return Object.fromEntries(Object.entries(e).map(([k, v]) => [k, v === null ? null : String(v)]));
}

function service(doc: Compose, name: string): Service {
  const svc = doc.services[name];
  if (!svc) throw new Error(`compose.yaml has no service ${name}`);
  return svc;
}

const APP_SERVICES = {
  order: "order-service",
  payment: "payment-service",
  shipping: "shipping-service",
  notification: "notification-service",
} as const;

/**
 * Why an image reference floats (another pull may get another image), or null when it is pinned:
 * an exact release tag (`v?MAJOR.MINOR.PATCH`, optionally with a variant such as `-alpine`), or a digest.
 */
function floatingImageReason(ref: string): string | null {
  if (/@sha256:[0-9a-f]{64}$/.test(ref)) return null;
  const slash = ref.lastIndexOf("/");
  const colon = ref.lastIndexOf(":");
  if (colon <= slash) return `${ref} has no tag: Docker pulls :latest`;
  const tag = ref.slice(colon + 1);
  if (tag === "latest") return `${ref} floats: :latest is whatever was pushed last`;
  if (!/^v?\d+\.\d+\.\d+(-[a-z0-9][a-z0-9.-]*)?$/i.test(tag)) return `${ref} floats: ${tag} is not an exact release (MAJOR.MINOR.PATCH)`;
  return null;
}

/** The images a Dockerfile's FROM lines pull (ARG defaults filled in), without `scratch` and its own stages. */
function dockerfileImages(text: string): string[] {
  const args = new Map([...text.matchAll(/^ARG\s+(\w+)=(\S+)/gm)].map((m) => [m[1]!, m[2]!] as const));
  const stages = new Set([...text.matchAll(/^FROM\s+\S+\s+AS\s+(\S+)/gim)].map((m) => m[1]!.toLowerCase()));
  return [...text.matchAll(/^FROM\s+(\S+)/gim)]
    .map((m) => m[1]!.replace(/\$\{(\w+)\}|\$(\w+)/g, (whole, a, b) => args.get(a ?? b) ?? whole))
    .filter((image) => image !== "scratch" && !stages.has(image.toLowerCase()));
}

describe("pinned images", () => {
  const composeFiles = ["compose.yaml", "compose.auth.yaml", "compose.deno.yaml"];

  it("pins every image of every compose file and of the Dockerfile to an exact release", () => {
    const images: string[] = [];
    for (const file of composeFiles) {
      const compose = parse(readFileSync(join(root, file), "utf8"), { merge: true }) as Compose;
      for (const svc of Object.values(compose.services ?? {})) if (typeof svc.image === "string") images.push(svc.image);
    }
    const fromDockerfile = dockerfileImages(readFileSync(join(root, "Dockerfile"), "utf8"));
    expect(fromDockerfile).toEqual(["node:24.22.3-slim", "denoland/deno:2.9.6"]);
    images.push(...fromDockerfile);
    expect(images.length).toBeGreaterThanOrEqual(10);
    expect(images.map(floatingImageReason).filter(Boolean)).toEqual([]);
  });

  it.each([
    ["nats", /no tag/],
    ["nats:latest", /:latest/],
    ["node:24-slim", /not an exact release/],
    ["prom/prometheus:v3", /not an exact release/],
    ["grafana/grafana:12.2", /not an exact release/],
    ["registry.local:5000/team/app", /no tag/],
    ["denoland/deno:alpine", /not an exact release/],
  ])("calls %s floating", (ref, reason) => {
    expect(floatingImageReason(ref)).toMatch(reason);
  });

  it.each([["nats:2.15.3-alpine"], ["prom/prometheus:v3.5.5"], ["registry.local:5000/team/app:1.2.3"], [`node@sha256:${"a".repeat(64)}`]])(
    "calls %s pinned",
    (ref) => expect(floatingImageReason(ref)).toBeNull(),
  );

  it("reads a Dockerfile's images with its ARG defaults, skipping scratch and its own stages", () => {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a Dockerfile's ${V}, not a template
    const text = "ARG V=1.2.3\nFROM node:${V}-slim AS base\nFROM scratch AS src\nFROM base AS run\nFROM $V AS odd\n";
    expect(dockerfileImages(text)).toEqual(["node:1.2.3-slim", "1.2.3"]);
  });
});

describe("compose.yaml", () => {
  let validate: ValidateFunction;
  let doc: Compose;

  beforeAll(() => {
    validate = makeValidator();
    doc = loadCompose();
  });

  const errorText = (errs: ErrorObject[] | null | undefined) =>
    (errs ?? []).map((e) => `${e.instancePath || "/"} ${e.message} ${JSON.stringify(e.params)}`).join("\n");

  it("is valid against the Compose Specification schema", () => {
    const ok = validate(doc);
    expect(errorText(validate.errors)).toBe("");
    expect(ok).toBe(true);
    expect(doc.name).toBe("orderstream");
  });

  it("has consistent cross-references (depends_on, volumes, networks, configs, build files)", () => {
    expect(crossReferenceErrors(doc)).toEqual([]);
  });

  it(`pins one current nats-server image (${MIN_SERVER_VERSION} or newer, an exact release) for every NATS node`, () => {
    const images = Object.values(doc.services)
      .map((svc) => String(svc.image ?? ""))
      .filter((image) => /^nats:/.test(image));
    expect(images.length).toBeGreaterThanOrEqual(4); // the single node and the three of the cluster profile
    expect(new Set(images).size).toBe(1);
    const tag = /^nats:(\d+\.\d+\.\d+)(-alpine)?$/.exec(images[0]!);
    expect(tag, images[0]).not.toBeNull();
    expect(compareVersions(tag![1]!, MIN_SERVER_VERSION)).toBeGreaterThanOrEqual(0);
  });

  /**
   * Services that cannot have one, and why: the VictoriaLogs image is distroless (no shell, no HTTP
   * client to probe /health with), and nothing waits for it to be healthy.
   */
  const NO_HEALTHCHECK: Record<string, string> = { "victoria-logs": "distroless image" };

  it("gives every service a healthcheck (but the listed exceptions)", () => {
    for (const [name, svc] of Object.entries(doc.services)) {
      if (name in NO_HEALTHCHECK) {
        expect(svc.healthcheck, `${name}: ${NO_HEALTHCHECK[name]}, so no healthcheck`).toBeUndefined();
        const dependants = Object.entries(doc.services).filter(([, s]) => {
          const deps = s.depends_on;
          return deps && !Array.isArray(deps) && (deps[name] as { condition?: string } | undefined)?.condition === "service_healthy";
        });
        expect(
          dependants.map(([n]) => n),
          `nothing waits for ${name} to be healthy`,
        ).toEqual([]);
        continue;
      }
      expect(svc.healthcheck?.test, `${name} healthcheck`).toBeTruthy();
      expect(svc.healthcheck?.disable ?? false, `${name} healthcheck disabled`).toBe(false);
    }
  });

  it("runs the four services from the one Dockerfile with their OTel service names", () => {
    for (const [name, otelName] of Object.entries(APP_SERVICES)) {
      const svc = service(doc, name);
      expect(svc.command, `${name} command`).toEqual([name]);
      expect(svc.build, `${name} build`).toMatchObject({ context: ".", dockerfile: "Dockerfile" });
      const e = env(svc);
      expect(e.OTEL_SERVICE_NAME, `${name} OTEL_SERVICE_NAME`).toBe(otelName);
      // Listening on every interface of the container (npm start binds 127.0.0.1 on a laptop).
      expect(e.HOST, `${name} HOST`).toBe("0.0.0.0");
      expect(e.NATS_URL, `${name} NATS_URL`).toContain("nats://nats:4222");
      expect(e.OTEL_EXPORTER_OTLP_ENDPOINT, `${name} OTLP endpoint`).toBe("http://jaeger:4318");
      expect(svc.healthcheck?.test?.toString(), `${name} healthcheck`).toContain("/readyz");
      expect(svc.depends_on, `${name} depends_on`).toMatchObject({ nats: { condition: "service_healthy" } });
    }
  });

  it(`runs VictoriaLogs ${VICTORIA_LOGS_VERSION} (what .ci/run builds) with a data volume, and every service ships its logs there without depending on it`, () => {
    const logs = service(doc, "victoria-logs");
    expect(logs.image).toBe(`victoriametrics/victoria-logs:${VICTORIA_LOGS_VERSION}`);
    // .ci/run builds the pinned versions of scripts/versions.ts, where VICTORIA_LOGS_VERSION comes from.
    expect(readFileSync(join(root, ".ci/run"), "utf8")).toMatch(/scripts\/ensure-tools\.ts --exact .*victoria-logs/);
    expect(logs.volumes).toContain("victoria-logs-data:/vlogs");
    expect(String(logs.command)).toContain("-storageDataPath=/vlogs");
    // Its default HTTP port; the host side is loopback only.
    expect(logs.ports).toEqual(["127.0.0.1:9428:9428"]);
    for (const name of Object.keys(APP_SERVICES)) {
      const svc = service(doc, name);
      expect(env(svc).VICTORIA_LOGS_URL, `${name} VICTORIA_LOGS_URL`).toBe("http://victoria-logs:9428");
      expect(Object.keys(svc.depends_on ?? {}), `${name} does not wait for the log store`).not.toContain("victoria-logs");
    }
  });

  it("publishes only the order API on a fixed host port, so the workers can be scaled", () => {
    expect(fixedHostPorts(service(doc, "order"))).toContain("3000:3000");
    for (const name of ["payment", "shipping", "notification"]) {
      expect(fixedHostPorts(service(doc, name)), name).toEqual([]);
      expect(service(doc, name).container_name, `${name} container_name`).toBeUndefined();
    }
  });

  it("keeps the opt-in loyalty service in its `loyalty` profile, run like the four (`docker compose up` is unchanged)", () => {
    const loyalty = service(doc, "loyalty");
    expect(loyalty.profiles).toEqual(["loyalty"]);
    expect(loyalty.command).toEqual(["loyalty"]);
    expect(loyalty.build).toMatchObject({ context: ".", dockerfile: "Dockerfile" });
    const e = env(loyalty);
    expect(e.OTEL_SERVICE_NAME).toBe("loyalty-service");
    expect(e.PORT).toBe(String(DEFAULT_PORTS.loyalty));
    expect(e.NATS_URL).toContain("nats://nats:4222");
    expect(e.VICTORIA_LOGS_URL).toBe("http://victoria-logs:9428");
    expect(loyalty.healthcheck?.test?.toString()).toContain("/readyz");
    expect(loyalty.depends_on).toMatchObject({ nats: { condition: "service_healthy" } });
    expect(fixedHostPorts(loyalty)).toEqual([]);
    // Every service without a profile is one of the default system's (or infrastructure).
    const unprofiled = Object.entries(doc.services)
      .filter(([, s]) => !s.profiles)
      .map(([n]) => n);
    expect(unprofiled).not.toContain("loyalty");
  });

  it("keeps the cluster nodes in the `cluster` profile with distinct, routed configs", () => {
    for (const n of [1, 2, 3]) {
      expect(service(doc, `nats-${n}`).profiles, `nats-${n}`).toEqual(["cluster"]);
    }
    for (const dir of ["nats/cluster", "nats/cluster/local"]) {
      const confs = [1, 2, 3].map((n) => readFileSync(join(root, dir, `nats-${n}.conf`), "utf8"));
      const serverNames = confs.map((c) => /^\s*server_name:\s*(\S+)/m.exec(c)?.[1]);
      expect(new Set(serverNames).size, `${dir} server names`).toBe(3);
      for (const c of confs) {
        expect(c).toMatch(/cluster\s*\{[^}]*name:\s*orderstream/);
        expect(c).toMatch(/jetstream\s*\{/);
        expect(c.match(/nats-route:\/\//g)?.length).toBe(2);
      }
    }
  });

  describe("the checks can fail", () => {
    it("rejects an unknown service key", () => {
      const bad = loadCompose();
      (service(bad, "order") as Dict).not_a_compose_key = true;
      expect(validate(bad)).toBe(false);
      expect(errorText(validate.errors)).toContain("not_a_compose_key");
    });

    it("rejects a wrongly typed healthcheck", () => {
      const bad = loadCompose();
      (service(bad, "payment") as Dict).healthcheck = { test: ["CMD", "true"], interval: 10 };
      expect(validate(bad)).toBe(false);
    });

    it("reports dangling references", () => {
      const bad = loadCompose();
      service(bad, "payment").depends_on = { "no-such-service": { condition: "service_started" } };
      service(bad, "shipping").volumes = ["undeclared-volume:/data"];
      service(bad, "notification").configs = [{ source: "no-such-config" }];
      bad.configs = { ...bad.configs, missing: { file: "./nats/does-not-exist.conf" } };
      service(bad, "order").build = { context: ".", dockerfile: "Dockerfile", target: "no-such-stage" };
      const errs = crossReferenceErrors(bad).join("\n");
      expect(errs).toContain("no-such-service");
      expect(errs).toContain("undeclared-volume");
      expect(errs).toContain("no-such-config");
      expect(errs).toContain("does-not-exist.conf");
      expect(errs).toContain("no-such-stage");
    });

    it("spots a fixed host port but accepts ranges and container-only ports", () => {
      expect(fixedHostPorts({ ports: ["3001:3001"] })).toEqual(["3001:3001"]);
      expect(fixedHostPorts({ ports: ["127.0.0.1:3001:3001/tcp"] })).toHaveLength(1);
      expect(fixedHostPorts({ ports: [{ target: 3001, published: 3001 }] })).toHaveLength(1);
      expect(fixedHostPorts({ ports: ["3003", "3003-3012:3003", { target: 3003 }] })).toEqual([]);
    });
  });
});

// The monitoring profile: what Prometheus scrapes must be what compose runs, and Grafana must find
// its provisioning and dashboard where the mounts put them.
describe("compose.yaml monitoring profile", () => {
  type ScrapeConfig = {
    job_name: string;
    dns_sd_configs?: { names: string[]; type?: string; port?: number }[];
    static_configs?: { targets: string[] }[];
  };
  let doc: Compose;
  let scrape: ScrapeConfig[];

  beforeAll(() => {
    doc = loadCompose();
    const prom = parse(readFileSync(join(root, "monitoring/prometheus.yml"), "utf8")) as { scrape_configs: ScrapeConfig[] };
    scrape = prom.scrape_configs;
  });

  /** host path of a bind mount of `svc` whose container path is `target`. */
  const bindSource = (svc: Service, target: string): string | undefined => {
    for (const v of svc.volumes ?? []) {
      if (typeof v !== "string") continue;
      const [src, dst] = v.split(":");
      if (dst === target) return src;
    }
    return undefined;
  };

  it("puts Prometheus, Grafana and the NATS exporter (only) in the monitoring profile", () => {
    for (const name of ["prometheus", "grafana", "nats-exporter"]) {
      expect(service(doc, name).profiles, name).toEqual(["monitoring"]);
    }
    for (const name of [...Object.keys(APP_SERVICES), "nats", "jaeger", "victoria-logs"]) {
      expect(service(doc, name).profiles, `${name} runs without a profile`).toBeUndefined();
    }
  });

  it("mounts monitoring/prometheus.yml as Prometheus' config", () => {
    const prom = service(doc, "prometheus");
    expect(prom.configs).toContainEqual({ source: "prometheus", target: "/etc/prometheus/prometheus.yml" });
    expect(doc.configs?.prometheus?.file).toBe("./monitoring/prometheus.yml");
    expect(String(prom.command)).toContain("--config.file=/etc/prometheus/prometheus.yml");
  });

  it("mounts monitoring/rules.yml beside it, where prometheus.yml's rule_files finds it", () => {
    const prom = service(doc, "prometheus");
    expect(prom.configs).toContainEqual({ source: "prometheus-rules", target: "/etc/prometheus/rules.yml" });
    expect(doc.configs?.["prometheus-rules"]?.file).toBe("./monitoring/rules.yml");
    const config = parse(readFileSync(join(root, "monitoring/prometheus.yml"), "utf8")) as { rule_files?: string[] };
    // Relative paths resolve against the config file's folder: /etc/prometheus in the container.
    expect(config.rule_files).toEqual(["rules.yml"]);
  });

  it("scrapes every replica of each service on the port compose gives it", () => {
    for (const name of Object.keys(APP_SERVICES)) {
      const job = scrape.find((j) => j.dns_sd_configs?.some((d) => d.names.includes(name)));
      expect(job, `a dns_sd scrape job for ${name}`).toBeDefined();
      const sd = job!.dns_sd_configs!.find((d) => d.names.includes(name))!;
      expect(sd.type, `${name}: A records, one per replica`).toBe("A");
      expect(String(sd.port), `${name} port`).toBe(env(service(doc, name)).PORT);
    }
  });

  it("scrapes NATS through the exporter, which reads the NATS monitoring port", () => {
    const exporter = service(doc, "nats-exporter");
    const targets = scrape.flatMap((j) => j.static_configs ?? []).flatMap((s) => s.targets);
    const port = /-port=(\d+)/.exec(String(exporter.command))?.[1] ?? "7777";
    expect(targets).toContain(`nats-exporter:${port}`);
    expect(String(exporter.command)).toContain("http://nats:8222");
    expect(readFileSync(join(root, "nats/nats-server.conf"), "utf8")).toMatch(/http_port\s*[:=]?\s*8222|http\s*[:=]\s*\S*8222/);
  });

  it("provisions Grafana with the Prometheus and VictoriaLogs datasources and the dashboard folder it mounts", () => {
    const grafana = service(doc, "grafana");
    const provisioning = bindSource(grafana, "/etc/grafana/provisioning");
    expect(provisioning).toBe("./monitoring/grafana/provisioning");
    const datasources = (file: string) =>
      (
        parse(readFileSync(join(root, provisioning!, "datasources", file), "utf8")) as {
          datasources: { uid: string; type: string; url: string }[];
        }
      ).datasources;
    const prom = datasources("prometheus.yml").find((d) => d.type === "prometheus");
    expect(prom?.url).toBe("http://prometheus:9090");
    // The VictoriaLogs plugin is installed before Grafana starts (so provisioning knows its type), and points at the compose service.
    const logs = datasources("victorialogs.yml").find((d) => d.type === "victoriametrics-logs-datasource");
    expect(logs?.url).toBe(`http://victoria-logs:${/:(\d+)$/.exec(service(doc, "victoria-logs").ports![0] as string)![1]}`);
    // Pinned (<id>@<version>) like the images, so a new plugin release cannot change a running setup.
    const plugins = env(grafana).GF_PLUGINS_PREINSTALL_SYNC?.split(",") ?? [];
    expect(plugins.find((p) => p.split("@")[0] === "victoriametrics-logs-datasource")).toMatch(/@\d+\.\d+\.\d+$/);
    expect(Object.keys(grafana.depends_on ?? {})).toContain("victoria-logs");

    const providers = parse(readFileSync(join(root, provisioning!, "dashboards/dashboards.yml"), "utf8")) as {
      providers: { type: string; options: { path: string } }[];
    };
    const dashboardsPath = providers.providers[0]!.options.path;
    const dashboards = bindSource(grafana, dashboardsPath);
    expect(dashboards, `a bind mount at ${dashboardsPath}`).toBe("./monitoring/grafana/dashboards");
    const dashboard = JSON.parse(readFileSync(join(root, dashboards!, "orderstream.json"), "utf8")) as { panels: unknown[] };
    // Every panel and query names the provisioned datasource by uid, so nothing needs picking by hand.
    const uids = new Set<string>();
    const walk = (node: unknown): void => {
      if (Array.isArray(node)) node.forEach(walk);
      else if (node && typeof node === "object") {
        for (const [key, value] of Object.entries(node)) {
          if (key === "datasource") uids.add((value as { uid?: string } | null)?.uid ?? "(none)");
          else walk(value);
        }
      }
    };
    walk(dashboard.panels);
    expect([...uids].sort()).toEqual([logs!.uid, prom!.uid].sort());
  });
});

describe("compose.deno.yaml (the services on Deno)", () => {
  const denoDoc = () => loadCompose(readFileSync(join(root, "compose.deno.yaml"), "utf8"));
  const problems = (v: ValidateFunction) => (v.errors ?? []).map((e) => `${e.instancePath || "/"} ${e.message}`).join("\n");

  it("is valid against the Compose Specification schema and its build target is a Dockerfile stage", () => {
    const validate = makeValidator();
    const doc = denoDoc();
    expect(validate(doc), problems(validate)).toBe(true);
    expect(crossReferenceErrors(doc)).toEqual([]);
    const bad = denoDoc();
    (service(bad, "order").build as Dict).target = "no-such-stage";
    expect(crossReferenceErrors(bad).join("\n")).toContain("no-such-stage");
  });

  it("overrides exactly the services of compose.yaml (the four and loyalty): deno target, Deno entry, deno healthcheck", () => {
    const doc = denoDoc();
    const names = [...Object.keys(APP_SERVICES), "loyalty"];
    expect(Object.keys(doc.services).sort()).toEqual(names.sort());
    // The override keeps loyalty opt-in: no profile of its own that would replace compose.yaml's.
    expect(service(doc, "loyalty").profiles).toBeUndefined();
    for (const name of names) {
      const svc = service(doc, name);
      expect(svc.build, name).toMatchObject({ target: "deno" });
      expect(svc.command, name).toEqual([`services/${name}/main.deno.ts`]);
      expect(existsSync(join(root, `services/${name}/main.deno.ts`)), name).toBe(true);
      expect(svc.healthcheck?.test?.slice(0, 3), name).toEqual(["CMD", "deno", "eval"]);
      expect(String(svc.healthcheck?.test), name).toContain("/readyz");
    }
  });
});
