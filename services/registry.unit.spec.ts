// Every registered manifest has its definition, under its own name (the entries run it by that name).
import { describe, expect, it } from "vitest";
import { SERVICES } from "../shared/services.ts";
import { serviceDefinitions } from "./registry.ts";

describe("services/registry.ts", () => {
  it("holds one definition per registered service, each under the name its manifest gives", () => {
    expect(Object.keys(serviceDefinitions)).toEqual([...SERVICES]);
    for (const name of SERVICES) expect(serviceDefinitions[name].name, name).toBe(name);
  });
});
