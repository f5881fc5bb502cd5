/**
 * Progress of a long CLI run (replay, rebuild-view): events done of the total, events per second
 * and the time left. On a terminal one line is redrawn in place (`\r`, a few times a second);
 * otherwise (a pipe, a file, CI) plain lines are printed, at most one every few seconds, so a log
 * of a 30-minute replay stays short. The formatting is pure; the reporter takes a clock.
 */
import type { TextOut } from "./command.ts";

/** Where a run stands. */
export interface ProgressSample {
  /** Events done so far. */
  done: number;
  /** Events to do in all (it may grow while the run goes on). */
  total: number;
  /** Milliseconds since the run started. */
  elapsedMs: number;
}

const count = (n: number) => Math.round(n).toLocaleString("en-US");

/**
 * A duration as a clock: `0:07`, `12:34`, `1:02:03`; `?` when it cannot be known.
 * @example formatDuration(3723) // "1:02:03"
 */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "?";
  const s = Math.round(seconds);
  const hours = Math.floor(s / 3600);
  const minutes = Math.floor((s % 3600) / 60);
  const secs = String(s % 60).padStart(2, "0");
  return hours > 0 ? `${hours}:${String(minutes).padStart(2, "0")}:${secs}` : `${minutes}:${secs}`;
}

/**
 * One progress line. The rate is the average since the start; the ETA is what is left at that
 * rate, and once everything is done the line says how long it took instead.
 * @example formatProgress("replay", { done: 12_345, total: 40_000, elapsedMs: 5_000 })
 * // "replay: 12,345 / 40,000 events (30%), 2,469 events/s, ETA 0:11"
 */
export function formatProgress(label: string, s: ProgressSample): string {
  const seconds = s.elapsedMs / 1000;
  const rate = seconds > 0 ? s.done / seconds : 0;
  const percent = s.total > 0 ? Math.floor((Math.min(s.done, s.total) * 100) / s.total) : 100;
  const left = Math.max(0, s.total - s.done);
  const speed = rate > 0 ? `${count(rate)} events/s` : "– events/s";
  const time = left === 0 ? `took ${formatDuration(seconds)}` : `ETA ${rate > 0 ? formatDuration(left / rate) : "?"}`;
  return `${label}: ${count(s.done)} / ${count(s.total)} events (${percent}%), ${speed}, ${time}`;
}

/**
 * Done and total from what is still to do, when only that can be asked (a consumer's pending
 * count): done never goes back, and the total grows by what arrived meanwhile.
 * @example trackRemaining({ done: 0, total: 100 }, 40) // { done: 60, total: 100 }
 */
export function trackRemaining(prev: { done: number; total: number }, remaining: number): { done: number; total: number } {
  const done = Math.max(prev.done, prev.total - remaining);
  return { done, total: Math.max(prev.total, done + remaining) };
}

/** Options of {@link createProgress}. */
export interface ProgressOptions {
  out: TextOut;
  label: string;
  /** Milliseconds, monotonic; default performance.now. */
  now?: () => number;
  /** Least time between two redraws on a terminal; default 200 ms. */
  ttyIntervalMs?: number;
  /** Least time between two plain lines; default 5 s. */
  plainIntervalMs?: number;
}

export interface Progress {
  /** Where the run stands now; drawn when the interval allows. */
  update(done: number, total: number): void;
  /** The last line, always drawn (and the terminal's line ended). */
  finish(done: number, total: number): void;
}

/**
 * The reporter for one run: `\r`-redrawn line on a TTY, else plain lines at a bounded rate.
 * @example const progress = createProgress({ out: process.stdout, label: "rebuild-view" })
 */
export function createProgress(opts: ProgressOptions): Progress {
  const now = opts.now ?? (() => performance.now());
  const tty = opts.out.isTTY === true;
  const interval = tty ? (opts.ttyIntervalMs ?? 200) : (opts.plainIntervalMs ?? 5_000);
  const started = now();
  let lastDrawn = -Infinity;
  let lastLine = "";
  const line = (done: number, total: number) => formatProgress(opts.label, { done, total, elapsedMs: now() - started });
  // `\r` back to the line's start, the text, then erase what a longer previous line left.
  const draw = (text: string, end: string) => opts.out.write(tty ? `\r${text}\u001b[K${end}` : `${text}\n`);
  return {
    update(done, total) {
      const t = now();
      if (t - lastDrawn < interval) return;
      lastDrawn = t;
      lastLine = line(done, total);
      draw(lastLine, "");
    },
    finish(done, total) {
      const text = line(done, total);
      if (!tty && text === lastLine) return;
      draw(text, "\n");
    },
  };
}
