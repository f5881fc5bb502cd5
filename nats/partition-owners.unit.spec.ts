import { describe, expect, it } from "vitest";
import { assignLanes } from "./partition-owners.ts";
import { LANES } from "./subjects.ts";

const ids = (n: number) => Array.from({ length: n }, (_, i) => `instance-${i}-${(i * 7919).toString(36)}`);

describe("assignLanes", () => {
  it("gives every one of 16 lanes to exactly one instance, ⌊16/k⌋ or ⌈16/k⌉ each, for 1 to 20 instances", () => {
    for (let k = 1; k <= 20; k++) {
      const members = ids(k);
      const assigned = assignLanes(members, 16);
      const all = [...assigned.values()].flat();
      expect(
        all.sort((a, b) => a - b),
        `k=${k}`,
      ).toEqual(Array.from({ length: 16 }, (_, p) => p));
      for (const [m, list] of assigned) {
        expect(list.length, `k=${k} ${m}`).toBeGreaterThanOrEqual(Math.floor(16 / k));
        expect(list.length, `k=${k} ${m}`).toBeLessThanOrEqual(Math.ceil(16 / k));
      }
    }
  });

  it("is the same whatever order the members are listed in (every instance computes the same)", () => {
    const members = ids(5);
    expect(assignLanes([...members].reverse())).toEqual(assignLanes(members));
    expect(assignLanes([...members, members[0]!])).toEqual(assignLanes(members));
  });

  it("moves a part of the lanes, not all, when an instance joins", () => {
    const three = ids(3);
    const four = ids(4);
    const owner = (a: Map<string, number[]>) => {
      const o = new Map<number, string>();
      for (const [m, list] of a) for (const p of list) o.set(p, m);
      return o;
    };
    const before = owner(assignLanes(three, 16));
    const after = owner(assignLanes(four, 16));
    const moved = [...before].filter(([p, m]) => after.get(p) !== m).length;
    // The newcomer needs 4; some more shift to even out the quotas, but far from all of them.
    expect(moved).toBeGreaterThanOrEqual(4);
    expect(moved).toBeLessThanOrEqual(10);
  });

  it("gives the service's LANES lanes out, and nothing to instances beyond them", () => {
    const assigned = assignLanes(ids(LANES + 2));
    expect([...assigned.values()].flat().sort((a, b) => a - b)).toEqual(Array.from({ length: LANES }, (_, l) => l));
    expect([...assigned.values()].filter((l) => l.length === 0)).toHaveLength(2);
  });

  it("assigns nothing without members", () => {
    expect(assignLanes([])).toEqual(new Map());
  });
});
