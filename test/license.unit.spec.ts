/**
 * The licence the package declares is the one its LICENSE file grants: package.json's SPDX id
 * names a licence whose terms LICENSE holds word for word, and the copyright line names the
 * project's authors.
 */
import { readFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";

const root = new URL("../", import.meta.url);
const pkg = JSON.parse(readFileSync(new URL("package.json", root), "utf8")) as { license?: string };
const lock = JSON.parse(readFileSync(new URL("package-lock.json", root), "utf8")) as { packages: Record<string, { license?: string }> };
const licenseText = readFileSync(new URL("LICENSE", root), "utf8");

/**
 * Licences by SPDX id: the heading and the SHA-256 of the terms, from the first line to the end of
 * the terms (the appendix after them is the template a project fills in with its copyright line).
 * Apache-2.0's is that of https://www.apache.org/licenses/LICENSE-2.0.txt without its leading blank line.
 */
const KNOWN: Record<string, { heading: RegExp; termsEnd: string; termsSha256: string }> = {
  "Apache-2.0": {
    heading: /^ +Apache License\n +Version 2\.0, January 2004\n/,
    termsEnd: "END OF TERMS AND CONDITIONS",
    termsSha256: "59899c6091b540582ed617e8eeaac4919dc985ccfc35459ee9752b699be5205b",
  },
};

describe("the licence", () => {
  it("given package.json's license, then it is an SPDX id whose terms LICENSE holds unchanged", () => {
    expect(pkg.license).toBe("Apache-2.0");
    const known = KNOWN[pkg.license!]!;
    expect(licenseText).toMatch(known.heading);
    const end = licenseText.indexOf(known.termsEnd);
    expect(end).toBeGreaterThan(0);
    const terms = licenseText.slice(0, end + known.termsEnd.length);
    expect(createHash("sha256").update(terms).digest("hex")).toBe(known.termsSha256);
  });

  it("given the LICENSE's appendix, then its copyright line names the orderstream authors, not the template", () => {
    expect(licenseText).toMatch(/^ {3}Copyright \d{4} The orderstream authors$/m);
    expect(licenseText).not.toContain("[name of copyright owner]");
  });

  it("given package-lock.json, then its root package declares the same licence (npm ci reads the lock)", () => {
    expect(lock.packages[""]?.license).toBe(pkg.license);
  });
});
