/**
 * The first-run decision of scripts/tools.ts, against a fake PATH and HOME in a temporary directory:
 * an installed binary is used; a missing one is built with Go (a stand-in `go` script that does what
 * `go install`/`go build` do: write the binary) into ~/go/bin, said before and after, and found there
 * afterwards; a failed build and a machine without Go give a message naming the alternatives.
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ensureTool, planTool, ToolMissingError } from "./tools.ts";
import { NATS_SERVER_VERSION, NATSCLI_VERSION } from "./versions.ts";
import { NATS_CLI_INSTALL_HINT } from "./nats-binary.ts";
import { SERVER_INSTALL_HINT } from "../nats/server-version.ts";

let dir: string;
let env: Record<string, string>;

function script(path: string, body: string): void {
  mkdirSync(join(path, ".."), { recursive: true });
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, 0o755);
}

/** A `go` that "builds" by writing a script where Go would put the binary (GOBIN, or -o). */
function fakeGo(exitCode = 0): void {
  script(
    join(dir, "go-bin", "go"),
    `echo "go $*" >> "${dir}/go.log"
[ ${exitCode} -ne 0 ] && { echo "cgo: C compiler not found" >&2; exit ${exitCode}; }
case "$1" in
  install) name="\${2%@*}"; name="\${name##*/}"; [ "$name" = v2 ] && name=nats-server; printf '#!/bin/sh\\necho built\\n' > "$GOBIN/$name"; /bin/chmod +x "$GOBIN/$name" ;;
  build) printf '#!/bin/sh\\necho built\\n' > "$3"; /bin/chmod +x "$3" ;;
esac
exit 0`,
  );
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "orderstream-tools-"));
  mkdirSync(join(dir, "empty"));
  env = { HOME: join(dir, "home"), PATH: join(dir, "empty") };
});

afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe("a tool on first use", () => {
  it("given it on the PATH, then that one is used and nothing is built", () => {
    script(join(dir, "tools", "jaeger"), "echo jaeger");
    fakeGo();
    env.PATH = `${join(dir, "tools")}:${join(dir, "go-bin")}`;
    expect(planTool("jaeger", env)).toEqual({ action: "use", path: join(dir, "tools", "jaeger") });
  });

  it("given it missing and Go on the PATH, then it is built into ~/go/bin, with a line before and after, and found there afterwards", async () => {
    fakeGo();
    env.PATH = join(dir, "go-bin");
    const target = join(dir, "home", "go", "bin", "jaeger");
    expect(planTool("jaeger", env)).toEqual({ action: "build", go: join(dir, "go-bin", "go"), target });
    const lines: string[] = [];
    expect(await ensureTool("jaeger", { env, log: (l) => lines.push(l) })).toBe(target);
    expect(statSync(target).mode & 0o111).not.toBe(0);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^building jaeger v1\.75\.0 with Go into .*jaeger \(first use only; minutes on a cold Go cache/);
    expect(lines[1]).toMatch(/^built jaeger v1\.75\.0 in \d+\.\d s: /);
    expect(planTool("jaeger", env)).toEqual({ action: "use", path: target });
  });

  it("given GOBIN, then the build goes there (where the finders look first)", async () => {
    fakeGo();
    env.PATH = join(dir, "go-bin");
    env.GOBIN = join(dir, "gobin");
    expect(await ensureTool("victoria-logs", { env, log: () => {} })).toBe(join(dir, "gobin", "victoria-logs"));
  });

  it("given --exact and an installed one of another version, then the pinned one is built", () => {
    fakeGo();
    script(join(dir, "home", "go", "bin", "nats"), "echo 0.1.0");
    env.PATH = join(dir, "go-bin");
    expect(planTool("natscli", env).action).toBe("use");
    expect(planTool("natscli", env, true).action).toBe("build");
  });

  it("given a build that fails, then an error with Go's own words and the alternatives", async () => {
    fakeGo(1);
    env.PATH = join(dir, "go-bin");
    const err = await ensureTool("victoria-logs", { env, log: () => {} }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ToolMissingError);
    expect((err as Error).message).toMatch(
      /building victoria-logs v1\.52\.2 with Go failed: go install .* failed:\ncgo: C compiler not found/,
    );
    expect((err as Error).message).toContain("https://github.com/VictoriaMetrics/VictoriaLogs/releases");
  });

  it("given no Go, then one message naming Go and the alternatives, and nothing built", async () => {
    const plan = planTool("jaeger", env);
    expect(plan.action).toBe("missing");
    const err = await ensureTool("jaeger", { env, log: () => {} }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ToolMissingError);
    const message = (err as Error).message;
    expect(message).toContain("jaeger v1.75.0 is not installed and Go is not on the PATH to build it (https://go.dev/dl/");
    expect(message).toContain("https://github.com/jaegertracing/jaeger/releases");
    expect(message).toContain("container image");
    expect(message.split("\n")).toHaveLength(1);
  });
});

describe("the versions", () => {
  it("given scripts/versions.ts, then the install hints a user reads name the same versions", () => {
    // nats/ cannot import scripts/ (layers point down): its hint is kept in step by this test.
    expect(SERVER_INSTALL_HINT).toContain(`nats-server/v2@${NATS_SERVER_VERSION}`);
    expect(NATS_CLI_INSTALL_HINT).toContain(`natscli/nats@${NATSCLI_VERSION}`);
  });
});
