import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { importsOf, layerViolations } from "./check-layers.ts";

describe("the layers of the code base", () => {
  it("import one way only (shared ← otel ← nats ← host, inspection ← services ← cli/scripts), with no cycles", () => {
    expect(layerViolations()).toEqual([]);
  });
});

describe("the layer check itself", () => {
  const root = mkdtempSync(join(tmpdir(), "layers-"));
  const write = (path: string, text: string) => {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  };
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it("reads static, type-only, multi-line, re-export and dynamic imports, and ignores packages", () => {
    const text = `import { a } from "./a.ts";\nimport type { B } from "../nats/b.ts";\nimport {\n  c,\n  d,\n} from "../host/c.ts";\nexport { e } from "./e.ts";\nconst f = await import("../services/f.ts");\nimport "./side-effect.ts";\nimport { g } from "hono";`;
    expect(importsOf(text)).toEqual(["./a.ts", "../nats/b.ts", "../host/c.ts", "./e.ts", "../services/f.ts", "./side-effect.ts"]);
  });

  it("flags an import that points up, and a cycle, but not a spec importing test helpers", () => {
    write("shared/low.ts", `import { x } from "../nats/high.ts";\n`);
    write("nats/high.ts", `export const x = 1;\n`);
    write("services/a.ts", `import { b } from "./b.ts";\n`);
    write("services/b.ts", `import type { A } from "./a.ts";\n`);
    write("shared/low.unit.spec.ts", `import { h } from "../test/support/h.ts";\n`);
    write("test/support/h.ts", `export const h = 1;\n`);
    const problems = layerViolations(root);
    expect(problems).toContain("shared/low.ts imports nats/high.ts: shared/ may not import nats/");
    expect(problems.filter((p) => p.startsWith("import cycle:"))).toEqual(["import cycle: services/a.ts → services/b.ts → services/a.ts"]);
    expect(problems).toHaveLength(2);
  });

  it("counts a service's manifest as shared/: shared/ may import it, and it may import nothing above shared/", () => {
    const manifestRoot = mkdtempSync(join(tmpdir(), "layers-manifest-"));
    const put = (path: string, text: string) => {
      mkdirSync(dirname(join(manifestRoot, path)), { recursive: true });
      writeFileSync(join(manifestRoot, path), text);
    };
    try {
      put("shared/events.ts", `export type E = 1;\n`);
      put("shared/services.ts", `import { m } from "../services/good/manifest.ts";\nimport { n } from "../services/bad/manifest.ts";\n`);
      put("services/good/manifest.ts", `import type { E } from "../../shared/events.ts";\nexport const m = 1;\n`);
      put("services/bad/manifest.ts", `import { h } from "../../host/h.ts";\nexport const n = 1;\n`);
      put("host/h.ts", `export const h = 1;\n`);
      put("services/bad/service.ts", `export const s = 1;\n`);
      put("shared/wrong.ts", `import { s } from "../services/bad/service.ts";\n`);
      expect(layerViolations(manifestRoot).sort()).toEqual([
        "services/bad/manifest.ts imports host/h.ts: shared/ may not import host/",
        "shared/wrong.ts imports services/bad/service.ts: shared/ may not import services/",
      ]);
    } finally {
      rmSync(manifestRoot, { recursive: true, force: true });
    }
  });

  it("keeps a service's domain/ pure: only shared/, its own folder and valibot; its specs may use test tools", () => {
    const domainRoot = mkdtempSync(join(tmpdir(), "layers-domain-"));
    const put = (path: string, text: string) => {
      mkdirSync(dirname(join(domainRoot, path)), { recursive: true });
      writeFileSync(join(domainRoot, path), text);
    };
    try {
      put("shared/events.ts", `export type E = 1;\n`);
      put("services/order/service.ts", `export const s = 1;\n`);
      put("services/order/domain/rules.ts", `export const r = 1;\n`);
      put("services/payment/domain/payment.ts", `export const p = 1;\n`);
      put(
        "services/order/domain/order.ts",
        [
          `import type { E } from "../../../shared/events.ts";`,
          `import { r } from "./rules.ts";`,
          `import type * as v from "valibot";`,
          `import { createHash } from "node:crypto";`,
          `import { Hono } from "hono";`,
          `import type { JetStreamClient } from "@nats-io/jetstream";`,
          `import { trace } from "@opentelemetry/api";`,
          `import { s } from "../service.ts";`,
          `import { p } from "../../payment/domain/payment.ts";`,
        ].join("\n"),
      );
      put("services/order/domain/order.unit.spec.ts", `import { it } from "vitest";\nimport { s } from "../service.ts";\n`);
      const problems = layerViolations(domainRoot);
      expect(problems).toEqual([
        "services/order/domain/order.ts imports node:crypto: services/order/domain/ is pure and may import no package but valibot (no node:, Hono, NATS or OpenTelemetry)",
        "services/order/domain/order.ts imports hono: services/order/domain/ is pure and may import no package but valibot (no node:, Hono, NATS or OpenTelemetry)",
        "services/order/domain/order.ts imports @nats-io/jetstream: services/order/domain/ is pure and may import no package but valibot (no node:, Hono, NATS or OpenTelemetry)",
        "services/order/domain/order.ts imports @opentelemetry/api: services/order/domain/ is pure and may import no package but valibot (no node:, Hono, NATS or OpenTelemetry)",
        "services/order/domain/order.ts imports services/order/service.ts: services/order/domain/ is pure and may import only shared/ and itself",
        "services/order/domain/order.ts imports services/payment/domain/payment.ts: services/order/domain/ is pure and may import only shared/ and itself",
      ]);
    } finally {
      rmSync(domainRoot, { recursive: true, force: true });
    }
  });
});
