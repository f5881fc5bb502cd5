/**
 * The pure part of the soak (bench/soak.ts): from a series of samples taken every few seconds, is a
 * figure flat, bounded, or growing? Figures are reported, never asserted; these verdicts only
 * summarise them in words a reader can check against the table.
 */

export interface Point {
  /** minutes since the soak's load started */
  min: number;
  value: number;
}

export interface LinearFit {
  /** change of the value per minute */
  slope: number;
  intercept: number;
  points: number;
}

/** Least-squares line through the finite points; slope NaN with fewer than two distinct times. */
export function linearFit(points: readonly Point[]): LinearFit {
  const ps = points.filter((p) => Number.isFinite(p.min) && Number.isFinite(p.value));
  const n = ps.length;
  if (n < 2) return { slope: NaN, intercept: ps[0]?.value ?? NaN, points: n };
  const mx = ps.reduce((s, p) => s + p.min, 0) / n;
  const my = ps.reduce((s, p) => s + p.value, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (const p of ps) {
    sxy += (p.min - mx) * (p.value - my);
    sxx += (p.min - mx) ** 2;
  }
  if (sxx === 0) return { slope: NaN, intercept: my, points: n };
  const slope = sxy / sxx;
  return { slope, intercept: my - slope * mx, points: n };
}

const finiteMax = (ps: readonly Point[]) => ps.reduce((m, p) => (Number.isFinite(p.value) && p.value > m ? p.value : m), -Infinity);

/** The points of the first and second half of the time they cover (the middle point goes to the second). */
export function halves(points: readonly Point[]): { first: Point[]; second: Point[] } {
  if (points.length === 0) return { first: [], second: [] };
  const mid = (points[0]!.min + points.at(-1)!.min) / 2;
  return { first: points.filter((p) => p.min < mid), second: points.filter((p) => p.min >= mid) };
}

export type LevelVerdict = "flat" | "bounded" | "growing" | "too short";

export interface LevelSummary {
  verdict: LevelVerdict;
  /** slope of the second half's linear fit, per minute */
  secondHalfSlope: number;
  firstHalfMax: number;
  secondHalfMax: number;
  last: number;
}

/**
 * A level that should settle (RSS, heap, a server's memory): judged on the second half of the run,
 * after warm-up and JIT have settled.
 * - flat: over the second half the fitted line moves by at most `tolerance` (absolute, in the
 *   value's unit) — e.g. 2 MiB of RSS;
 * - bounded: it moves more, but the second half never goes above the first half's peak plus
 *   `tolerance` (a sawtooth: garbage collection, a cache filling up to its cap);
 * - bounded: also when it went above that peak but the second half's line falls (it came back);
 * - growing: neither — at that slope it would run out of room some day.
 */
export function levelVerdict(points: readonly Point[], tolerance: number): LevelSummary {
  const { first, second } = halves(points);
  const fit = linearFit(second);
  const firstHalfMax = finiteMax(first);
  const secondHalfMax = finiteMax(second);
  const last = points.at(-1)?.value ?? NaN;
  const base = { secondHalfSlope: fit.slope, firstHalfMax, secondHalfMax, last };
  if (first.length < 1 || second.length < 2 || !Number.isFinite(fit.slope)) return { verdict: "too short", ...base };
  const spanMin = second.at(-1)!.min - second[0]!.min;
  if (Math.abs(fit.slope * spanMin) <= tolerance) return { verdict: "flat", ...base };
  if (secondHalfMax <= firstHalfMax + tolerance || fit.slope <= 0) return { verdict: "bounded", ...base };
  return { verdict: "growing", ...base };
}

export type BacklogVerdict = "drained" | "not drained";

export interface BacklogSummary {
  verdict: BacklogVerdict;
  /** the most seen while the load ran */
  maxUnderLoad: number;
  /** at the last sample (after the drain wait) */
  last: number;
}

/**
 * A backlog (consumer pending + ack pending): it may rise under load as long as it comes back to at
 * most `tolerance` once the load stops; `loadEndMin` separates the two.
 */
export function backlogVerdict(points: readonly Point[], loadEndMin: number, tolerance = 0): BacklogSummary {
  const under = points.filter((p) => p.min <= loadEndMin);
  const last = points.at(-1)?.value ?? NaN;
  return { verdict: Number.isFinite(last) && last <= tolerance ? "drained" : "not drained", maxUnderLoad: finiteMax(under), last };
}

export type RatioVerdict = "steady" | "drifting" | "too short";

export interface RatioSummary {
  verdict: RatioVerdict;
  /** mean of the per-sample ratios over the second half */
  mean: number;
  min: number;
  max: number;
  /** largest relative distance of a second-half ratio from that mean */
  spread: number;
}

/**
 * A ratio that should stay put while both sides grow (stream bytes per order: bytes grow linearly
 * with orders): steady when every second-half sample is within `tolerance` (relative, 0.05 = 5 %)
 * of the second half's mean. Samples with no denominator yet are left out.
 */
export function ratioVerdict(numerators: readonly Point[], denominators: readonly Point[], tolerance = 0.05): RatioSummary {
  const ratios: Point[] = [];
  for (let i = 0; i < Math.min(numerators.length, denominators.length); i++) {
    const d = denominators[i]!.value;
    if (d > 0 && Number.isFinite(numerators[i]!.value)) ratios.push({ min: numerators[i]!.min, value: numerators[i]!.value / d });
  }
  const { second } = halves(ratios);
  if (second.length < 2) return { verdict: "too short", mean: NaN, min: NaN, max: NaN, spread: NaN };
  const values = second.map((p) => p.value);
  const mean = values.reduce((s, v) => s + v, 0) / values.length;
  const spread = Math.max(...values.map((v) => Math.abs(v - mean) / mean));
  return { verdict: spread <= tolerance ? "steady" : "drifting", mean, min: Math.min(...values), max: Math.max(...values), spread };
}

/** Every `step`-th item, always with the last one (a long soak's table printed shorter). */
export function everyNth<T>(items: readonly T[], step: number): T[] {
  if (step <= 1) return [...items];
  return items.filter((_, i) => i % step === 0 || i === items.length - 1);
}

/** Minimal Prometheus text parser: the sum of every sample of `name` whose labels include `labels`. */
export function metricSum(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  let seen = false;
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split("\n")) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (rest[0] !== " " && rest[0] !== "{") continue; // a longer name sharing the prefix
    const labelText = rest[0] === "{" ? rest.slice(1, rest.indexOf("}")) : "";
    if (!wanted.every((w) => labelText.split(",").includes(w))) continue;
    const value = Number(line.slice(line.lastIndexOf(" ") + 1));
    if (Number.isFinite(value)) {
      sum += value;
      seen = true;
    }
  }
  return seen ? sum : NaN;
}
