// The documents' links resolve: every relative link in README.md, ARCHITECTURE.md, BENCHMARKS.md
// and docs/ (the generated reference included) points at a file of the repository, and every
// `#anchor` at a heading (or `<a id>`) that file has; and every section named in words anywhere
// in the repository (`docs/operations.md, "Sizing the store"`, in a comment or a document) is a
// heading or a bold paragraph title of that document — so a section that moves or is renamed
// breaks this spec, not a reader's click or search. And nothing points outside the repository at
// what a reader cannot open: no "the contract", no tracker's issue numbers (upstream projects'
// issues, in docs/upstream.md, are public and stay).
import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import {
  brokenLink,
  documentPathsOf,
  hasSection,
  linksOf,
  markdownUnder,
  sectionReferencesOf,
  textFiles,
} from "../scripts/reference/links.ts";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");

/** The files that spell out what the checks look for. */
const CHECKERS = ["test/doc-links.unit.spec.ts", "scripts/reference/links.ts"];

const DOCUMENTS = ["README.md", "ARCHITECTURE.md", "BENCHMARKS.md", ...markdownUnder(root, "docs")];

describe("links in the documents", () => {
  it.each(DOCUMENTS)("%s: every relative link and anchor resolves", (file) => {
    const problems = linksOf(readFileSync(join(root, file), "utf8"))
      .map(({ target, line }) => {
        const problem = brokenLink(root, file, target);
        return problem && `${file}:${line} ${problem}`;
      })
      .filter(Boolean);
    expect(problems).toEqual([]);
  });

  it("given a document, when links sit in prose, code spans and fences, then only the prose ones are links", () => {
    const text = [
      "See [design](docs/design.md#partitions) and [ref][r].",
      "`[not](a-link.md)` but [this](#top).",
      "```",
      "[fenced](nope.md)",
      "```",
      "[r]: docs/reference/README.md",
    ].join("\n");
    expect(linksOf(text)).toEqual([
      { target: "docs/design.md#partitions", line: 1 },
      { target: "#top", line: 2 },
      { target: "docs/reference/README.md", line: 6 },
    ]);
  });

  it("given a moved section, when linked by its old anchor, then the link is reported", () => {
    expect(brokenLink(root, "README.md", "docs/design.md#no-such-section-here")).toMatch(/has no heading #no-such-section-here/);
    expect(brokenLink(root, "README.md", "docs/no-such-file.md")).toMatch(/no such file/);
    expect(brokenLink(root, "README.md", "LICENSE")).toBeNull();
  });
});

describe("sections named in words", () => {
  it("are headings (or bold paragraph titles) of the document they name", () => {
    const documents = new Map<string, string>();
    const problems: string[] = [];
    let references = 0;
    // This spec's examples name sections that do not exist, on purpose; links.ts holds the pattern.
    for (const file of textFiles(root).filter((f) => !CHECKERS.includes(f))) {
      for (const { document, section, line } of sectionReferencesOf(readFileSync(join(root, file), "utf8"))) {
        references++;
        if (!documents.has(document)) documents.set(document, readFileSync(join(root, document), "utf8"));
        if (!hasSection(documents.get(document)!, section))
          problems.push(`${file}:${line} names ${document} "${section}", which has no such section`);
      }
    }
    expect(references).toBeGreaterThan(10);
    expect(problems).toEqual([]);
  });

  it("given text naming sections, when read, then each is found with its document; headings and bold titles match", () => {
    expect(sectionReferencesOf('(data-ingestion/README.md, "JSON stream API"), another project\'s')).toEqual([]);
    expect(sectionReferencesOf('see docs/operations.md, "Sizing the store" and README "Sites"; BENCHMARKS.md", x("a")')).toEqual([
      { document: "docs/operations.md", section: "Sizing the store", line: 1 },
      { document: "README.md", section: "Sites", line: 1 },
    ]);
    const doc = "## The API documents (OpenAPI 3.1)\n\n**The cancel race.** Text.";
    expect(hasSection(doc, "The API documents")).toBe(true);
    expect(hasSection(doc, "The cancel race")).toBe(true);
    expect(hasSection(doc, "Partitions")).toBe(false);
  });
});

describe("documents named by path in code and configs", () => {
  it("exist, and so do the headings their #anchors name", () => {
    const problems: string[] = [];
    let references = 0;
    for (const file of textFiles(root).filter((f) => !f.endsWith(".md") && !CHECKERS.includes(f))) {
      for (const { target, line } of documentPathsOf(readFileSync(join(root, file), "utf8"))) {
        references++;
        // Paths in code are written from the repository's root, whichever folder the file is in.
        const problem = brokenLink(root, "README.md", target);
        if (problem) problems.push(`${file}:${line} ${problem}`);
      }
    }
    expect(references).toBeGreaterThan(10);
    expect(problems).toEqual([]);
  });

  it("given a comment, when it names documents, then each path is found with its anchor", () => {
    expect(
      documentPathsOf("// see docs/reference/http-api.md#errors and README.md; not x/README.md, ../docs/a.md or docs/victorialogs/b.md"),
    ).toEqual([
      { target: "docs/reference/http-api.md#errors", line: 1 },
      { target: "README.md", line: 1 },
    ]);
  });
});

describe("references a reader can follow", () => {
  const offences = (pattern: RegExp, skip: readonly string[]) =>
    textFiles(root)
      .filter((f) => !CHECKERS.includes(f) && !skip.includes(f))
      .flatMap((file) =>
        readFileSync(join(root, file), "utf8")
          .split("\n")
          .flatMap((line, i) => (pattern.test(line) ? [`${file}:${i + 1} ${line.trim()}`] : [])),
      );

  it('cite no "contract" outside the repository: they point at docs/reference or state the rule', () => {
    expect(offences(/\bthe contract\b|\bcontract(?:'s|:)/i, [])).toEqual([]);
  });

  it("cite no tracker's issue numbers: they say what the work was (upstream issues in docs/upstream.md stay)", () => {
    expect(offences(/\bissues? #?\d+/i, ["docs/upstream.md"])).toEqual([]);
  });
});
