import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { importsOf, layerViolations } from "../scripts/check-layers.ts";

describe("the layers of the code base", () => {
  it("import one way only (shared ← otel ← nats ← host ← services ← cli/scripts), with no cycles", () => {
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
});
