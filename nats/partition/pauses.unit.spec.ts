import { describe, expect, it } from "vitest";
import { Pauses } from "./pauses.ts";

describe("Pauses", () => {
  it("given a pause, when it runs out, then it resolves true", async () => {
    expect(await new Pauses().sleep(1)).toBe(true);
  });

  it("given pauses in progress, when stopped, then each resolves false at once, and so does any later one", async () => {
    const pauses = new Pauses();
    const long = [pauses.sleep(60_000), pauses.sleep(60_000)];
    pauses.stop();
    expect(await Promise.all(long)).toEqual([false, false]);
    expect(await pauses.sleep(60_000)).toBe(false);
  });
});
