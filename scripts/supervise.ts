/**
 * Supervising the processes a start script runs (scripts/start.ts; meant for any script that starts
 * a local system): one lock per checkout, children that die with their parent even when it is
 * SIGKILLed, a watch on the parent chain (npm does not forward SIGHUP, and the `sh -c` npm runs a
 * script through does not forward the SIGTERM npm hands it), and an orderly stop within a budget.
 * Node-only helper, like nats-binary.ts.
 *
 * Children and a SIGKILLed parent: Linux's parent-death signal, through util-linux `setpriv
 * --pdeathsig TERM` (it sets the signal, then execs the program, so the pid is the program's). The
 * kernel sends it when the thread that forked the child exits; Node forks from its main thread, which
 * ends only with the process. The Go servers cannot watch their parent themselves, and a service
 * given SIGTERM drains as it does under any supervisor — one mechanism for all. Where setpriv is
 * missing (macOS), children outlive a SIGKILLed parent; every other way of stopping still works.
 */
import { execFileSync, type ChildProcess } from "node:child_process";
import { linkSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { executableCandidates } from "./nats-binary.ts";

/** What a lock file holds: who runs the system and where it answers. */
export interface StartLock {
  pid: number;
  /** The holder's command line, where /proc tells it: a live pid running something else is a reused pid. */
  command?: string;
  startedAt: string;
  /** Filled in once known: NATS URL, service URLs, Jaeger and VictoriaLogs. */
  endpoints?: Record<string, string>;
}

/** Another start script of this checkout runs: refused before anything is started or written. */
export class AlreadyRunningError extends Error {
  constructor(
    readonly holder: StartLock,
    readonly lockFile: string,
  ) {
    const where = Object.entries(holder.endpoints ?? {})
      .map(([name, url]) => `${name} ${url}`)
      .join(", ");
    super(
      `already running in this checkout: pid ${holder.pid} (since ${holder.startedAt}${where ? `; ${where}` : "; still starting"}). ` +
        `Use that one, or stop it first (kill ${holder.pid}); lock ${lockFile}.`,
    );
    this.name = "AlreadyRunningError";
  }
}

/** True while `pid` is a live process (EPERM: alive, someone else's). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** A process's command line from /proc (Linux), or undefined. */
function commandLine(pid: number | "self"): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ").trim();
  } catch {
    return undefined;
  }
}

/** The lock's holder still runs: its pid is alive and, where /proc tells, runs the same command. */
function holderRuns(holder: StartLock): boolean {
  if (!Number.isInteger(holder.pid) || holder.pid <= 0 || !processAlive(holder.pid)) return false;
  const now = commandLine(holder.pid);
  return now === undefined || holder.command === undefined || now === holder.command;
}

function readLock(path: string): StartLock | null {
  try {
    return JSON.parse(readFileSync(path, "utf8")) as StartLock;
  } catch {
    return null;
  }
}

/** Writes `value` next to `path` and returns that temporary file: complete before anyone can read it. */
function writeTemp(path: string, value: StartLock): string {
  const temp = `${path}.${process.pid}.tmp`;
  writeFileSync(temp, `${JSON.stringify(value, null, 2)}\n`);
  return temp;
}

/** A lock this process holds. */
export interface HeldLock {
  readonly path: string;
  /** Records where the system answers, for a second start's refusal to name. */
  update(endpoints: Record<string, string>): void;
  /** Removes the lock if it is still ours. Idempotent. */
  release(): void;
}

/**
 * Takes the lock file `path` for this process, atomically: the content is written to a temporary
 * file first and hard-linked to `path`, which fails when `path` exists — so two starts racing never
 * both win and a reader never sees half a file. A lock whose holder is gone (SIGKILL, a crash, a
 * reboot) is taken over and `onStale` told so. Throws {@link AlreadyRunningError} when the holder runs.
 * @example const lock = acquireLock(".data/npm-start.lock", (old) => console.log(`stale lock of pid ${old.pid} taken over`));
 */
export function acquireLock(path: string, onStale: (stale: StartLock | null) => void = () => {}): HeldLock {
  mkdirSync(dirname(path), { recursive: true });
  const mine: StartLock = { pid: process.pid, command: commandLine("self"), startedAt: new Date().toISOString() };
  const temp = writeTemp(path, mine);
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        linkSync(temp, path);
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EEXIST" || attempt >= 2) throw err;
      }
      const holder = readLock(path);
      if (holder && holderRuns(holder)) throw new AlreadyRunningError(holder, path);
      // Stale: its holder is gone. Renamed away (atomic) rather than removed, so that of two starts
      // taking it over at once only one moves it; the other finds the winner's lock next round.
      const stale = `${path}.stale.${process.pid}`;
      try {
        renameSync(path, stale);
      } catch {
        continue;
      }
      const moved = readLock(stale);
      rmSync(stale, { force: true });
      if (moved && holderRuns(moved)) {
        // Lost a race to a start that took it over between the read and the rename: put it back.
        try {
          linkSync(writeTemp(stale, moved), path);
        } finally {
          rmSync(`${stale}.${process.pid}.tmp`, { force: true });
        }
        throw new AlreadyRunningError(moved, path);
      }
      onStale(holder);
    }
  } finally {
    rmSync(temp, { force: true });
  }
  let released = false;
  return {
    path,
    update(endpoints) {
      if (released) return;
      renameSync(writeTemp(path, { ...mine, endpoints }), path);
    },
    release() {
      if (released) return;
      released = true;
      if (readLock(path)?.pid === process.pid) rmSync(path, { force: true });
    },
  };
}

/** The parent pid of `pid` from /proc (Linux), or null where there is no /proc or no such process. */
function procParent(pid: number | "self"): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // "pid (comm) state ppid …": comm may hold spaces and parentheses, so read after the last ")".
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
  } catch {
    return null;
  }
}

/** The parent of `pid`: /proc where there is one, else `ps`; null when unknown. */
function parentOf(pid: number): number | null {
  const fromProc = procParent(pid);
  if (fromProc !== null) return fromProc;
  try {
    const out = execFileSync("ps", ["-o", "ppid=", "-p", String(pid)], { encoding: "utf8", timeout: 2_000 }).trim();
    return out ? Number(out) : null;
  } catch {
    return null;
  }
}

/**
 * Calls `onGone` once when the process that started this one goes away — and, when npm ran this
 * script (through `sh -c`), when npm itself does: npm dies of a SIGHUP without passing it on, and
 * passes a SIGTERM only to that shell, which exits without passing it on either. Checked every
 * `intervalMs`; returns a function that stops watching.
 */
export function watchParents(onGone: (why: string) => void, intervalMs = 500): () => void {
  const parent = process.ppid;
  const underNpm = !!process.env.npm_lifecycle_event;
  const grandparent = underNpm ? parentOf(parent) : null;
  const watched: [child: number | "self", parent: number, name: string][] = [["self", parent, `parent process ${parent}`]];
  if (grandparent && grandparent > 1) watched.push([parent, grandparent, `npm (pid ${grandparent})`]);
  const timer = setInterval(() => {
    for (const [child, expected, name] of watched) {
      // /proc says exactly whether the child was re-parented; elsewhere a dead pid is the sign.
      const now = procParent(child);
      const gone = now !== null ? now !== expected : !processAlive(expected);
      if (gone) {
        clearInterval(timer);
        onGone(`${name} is gone`);
        return;
      }
    }
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}

let setprivChecked: string | null | undefined;

/** util-linux setpriv when it is there and knows --pdeathsig (util-linux 2.33+; Debian 10+), else null. */
export function findSetpriv(): string | null {
  if (setprivChecked !== undefined) return setprivChecked;
  setprivChecked = null;
  if (process.platform !== "linux") return null;
  for (const path of executableCandidates("setpriv", "SETPRIV_BIN", ["/usr/bin/setpriv", "/bin/setpriv"])) {
    try {
      execFileSync(path, ["--pdeathsig", "TERM", "--", "true"], { timeout: 5_000, stdio: "ignore" });
      setprivChecked = path;
      break;
    } catch {
      /* too old, or not runnable: try the next */
    }
  }
  return setprivChecked;
}

/**
 * `[command, args]` so that the program gets SIGTERM when this process dies, however it dies:
 * wrapped in `setpriv --pdeathsig TERM` where there is one, unchanged elsewhere.
 * @example const [cmd, argv] = dyingWithParent("nats-server", ["-js"]); spawn(cmd, argv);
 */
export function dyingWithParent(command: string, args: string[]): [string, string[]] {
  const setpriv = findSetpriv();
  return setpriv ? [setpriv, ["--pdeathsig", "TERM", "--", command, ...args]] : [command, args];
}

/** Sends `signal`, then SIGKILL after `graceMs`; resolves once the process has exited. */
export function stopChild(proc: ChildProcess, graceMs: number, signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => proc.kill("SIGKILL"), graceMs);
    proc.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
    proc.kill(signal);
  });
}

/**
 * Runs `stop` once on SIGINT, SIGTERM or SIGHUP, or when the parent chain goes away
 * ({@link watchParents}); output errors are ignored from then on (a closed terminal answers writes
 * with EIO, which must not cut the stop short). `stop` must end the process.
 */
export function onStopRequest(stop: (why: string) => void): void {
  let requested = false;
  const once = (why: string) => {
    if (requested) return;
    requested = true;
    for (const stream of [process.stdout, process.stderr]) stream.on("error", () => {});
    stop(why);
  };
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(signal, () => once(signal));
  watchParents(once);
}
