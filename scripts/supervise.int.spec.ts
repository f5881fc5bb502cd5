/**
 * scripts/supervise.ts with real processes: the start lock (taken atomically, refused while its
 * holder runs, taken over when it is gone or its pid now runs something else, one winner when several
 * race) and the parent-death signal (a child spawned through `dyingWithParent` is gone once its
 * parent is SIGKILLed).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { acquireLock, AlreadyRunningError, findSetpriv, processAlive, type StartLock } from "./supervise.ts";
import { waitUntil } from "../test/support/processes.ts";

let dir: string;
let lockFile: string;
const spawned: ChildProcess[] = [];

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once("exit", () => resolve())));
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "orderstream-lock-"));
  lockFile = join(dir, "sub", "npm-start.lock");
});

afterEach(async () => {
  for (const child of spawned.splice(0)) {
    child.kill("SIGKILL");
    await exited(child);
  }
  rmSync(dir, { recursive: true, force: true });
});

describe("the start lock", () => {
  it("given none, then it is taken with this pid; a second taker is refused, naming the pid and the endpoints; released, it is gone", () => {
    const lock = acquireLock(lockFile);
    expect((JSON.parse(readFileSync(lockFile, "utf8")) as StartLock).pid).toBe(process.pid);
    lock.update({ nats: "nats://127.0.0.1:4222", order: "http://127.0.0.1:3000" });
    let err: unknown;
    try {
      acquireLock(lockFile);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(AlreadyRunningError);
    expect((err as Error).message).toMatch(
      new RegExp(
        `^already running in this checkout: pid ${process.pid} \\(since .*; nats nats://127\\.0\\.0\\.1:4222, order http://127\\.0\\.0\\.1:3000\\)\\. Use that one, or stop it first \\(kill ${process.pid}\\)`,
      ),
    );
    lock.release();
    lock.release();
    expect(existsSync(lockFile)).toBe(false);
  });

  it("given a lock whose holder is gone, then it is taken over and the takeover said", async () => {
    const gone = spawn("true");
    await exited(gone);
    expect(processAlive(gone.pid!)).toBe(false);
    acquireLock(lockFile).release();
    writeFileSync(lockFile, JSON.stringify({ pid: gone.pid, startedAt: "then" }));
    const stale: (StartLock | null)[] = [];
    const lock = acquireLock(lockFile, (s) => stale.push(s));
    expect(stale.map((s) => s?.pid)).toEqual([gone.pid]);
    expect((JSON.parse(readFileSync(lockFile, "utf8")) as StartLock).pid).toBe(process.pid);
    lock.release();
  });

  it("given a lock whose pid now runs another program (a reused pid), then it is taken over", () => {
    const other = spawn("sleep", ["30"]);
    spawned.push(other);
    acquireLock(lockFile).release();
    writeFileSync(lockFile, JSON.stringify({ pid: other.pid, command: "node --import tsx scripts/start.ts", startedAt: "then" }));
    const stale: number[] = [];
    acquireLock(lockFile, (s) => stale.push(s!.pid)).release();
    expect(stale).toEqual([other.pid]);
  });

  it("given four starts racing for it, then exactly one holds it", async () => {
    const code = `import { acquireLock } from ${JSON.stringify(join(import.meta.dirname, "supervise.ts"))};
      try { acquireLock(${JSON.stringify(lockFile)}); console.log("won"); setTimeout(() => {}, 3000); } catch (e) { console.log(e.name); }`;
    const results = await Promise.all(
      [1, 2, 3, 4].map(
        () =>
          new Promise<string>((resolve) => {
            const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", code], {
              stdio: ["ignore", "pipe", "inherit"],
            });
            spawned.push(child);
            let out = "";
            child.stdout!.on("data", (d) => {
              out += d;
              if (out.includes("\n")) resolve(out.trim());
            });
          }),
      ),
    );
    expect(results.sort()).toEqual(["AlreadyRunningError", "AlreadyRunningError", "AlreadyRunningError", "won"]);
  });
});

describe("children of a SIGKILLed parent", () => {
  it("given a child spawned through dyingWithParent, then it gets SIGTERM when its parent is SIGKILLed", async () => {
    expect(findSetpriv(), "util-linux setpriv with --pdeathsig (Debian: util-linux)").not.toBeNull();
    const code = `import { spawn } from "node:child_process";
      import { dyingWithParent } from ${JSON.stringify(join(import.meta.dirname, "supervise.ts"))};
      const [cmd, args] = dyingWithParent("sleep", ["60"]);
      const child = spawn(cmd, args, { stdio: "ignore", detached: true });
      console.log(child.pid); setInterval(() => {}, 1000);`;
    const parent = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", code], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    spawned.push(parent);
    const childPid = await new Promise<number>((resolve) => parent.stdout!.on("data", (d) => resolve(Number(String(d).trim()))));
    // The pid is known at fork; setpriv execs sleep a moment later (until then cmdline is the fork's, or empty).
    await waitUntil(async () => readFileSync(`/proc/${childPid}/cmdline`, "utf8").includes("sleep"), {
      timeoutMs: 5_000,
      what: "setpriv to exec sleep",
    });
    parent.kill("SIGKILL");
    await waitUntil(async () => !processAlive(childPid) || readFileSync(`/proc/${childPid}/stat`, "utf8").includes(") Z "), {
      timeoutMs: 5_000,
      what: "the orphaned sleep to get its parent-death SIGTERM",
    });
  });
});
