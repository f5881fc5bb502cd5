// The documents' links resolve: every relative link in README.md, ARCHITECTURE.md, BENCHMARKS.md
// and docs/ (the generated reference included) points at a file of the repository, and every
// `#anchor` at a heading (or `<a id>`) that file has; and every section named in words anywhere
// in the repository (`docs/operations.md, "Sizing the store"`, in a comment or a document) is a
// heading or a bold paragraph title of that document — so a section that moves or is renamed
// breaks this spec, not a reader's click or search. And nothing points outside the repository at
// what a reader cannot open: no "the contract", no tracker's issue numbers (upstream projects'
// issues, in docs/upstream.md, are public and stay).
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { anchorsOf } from "../scripts/reference/markdown.ts";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");

function markdownUnder(dir: string): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? markdownUnder(join(dir, e.name)) : e.name.endsWith(".md") ? [join(dir, e.name)] : [],
  );
}

const DOCUMENTS = ["README.md", "ARCHITECTURE.md", "BENCHMARKS.md", ...markdownUnder("docs")];

/** Link targets in Markdown outside code: `[text](target)` and `[text]: target`, with their line. */
export function linksOf(markdown: string): { target: string; line: number }[] {
  const links: { target: string; line: number }[] = [];
  let fenced = false;
  markdown.split("\n").forEach((text, i) => {
    if (/^\s*(```|~~~)/.test(text)) {
      fenced = !fenced;
      return;
    }
    if (fenced) return;
    const prose = text.replace(/`[^`]*`/g, "");
    for (const [, target] of prose.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) links.push({ target: target!, line: i + 1 });
    const reference = /^\s*\[[^\]]+\]:\s*(\S+)/.exec(prose);
    if (reference) links.push({ target: reference[1]!, line: i + 1 });
  });
  return links;
}

/** What is wrong with one link from `file`, or null when it resolves. */
function brokenLink(file: string, target: string): string | null {
  if (/^[a-z][a-z0-9+.-]*:/i.test(target)) return null; // https:, mailto: — outside the repository
  const [path, anchor] = target.split("#", 2) as [string, string | undefined];
  const resolved = path === "" ? join(root, file) : resolve(join(root, dirname(file)), decodeURIComponent(path));
  if (!resolved.startsWith(root)) return `${target} points outside the repository`;
  if (!existsSync(resolved)) return `${target}: no such file ${relative(root, resolved)}`;
  if (anchor === undefined) return null;
  if (statSync(resolved).isDirectory() || !resolved.endsWith(".md")) return `${target}: an anchor in a file that is not Markdown`;
  const anchors = anchorsOf(readFileSync(resolved, "utf8"));
  return anchors.has(decodeURIComponent(anchor)) ? null : `${target}: ${relative(root, resolved)} has no heading #${anchor}`;
}

describe("links in the documents", () => {
  it.each(DOCUMENTS)("%s: every relative link and anchor resolves", (file) => {
    const problems = linksOf(readFileSync(join(root, file), "utf8"))
      .map(({ target, line }) => {
        const problem = brokenLink(file, target);
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
    expect(brokenLink("README.md", "docs/design.md#no-such-section-here")).toMatch(/has no heading #no-such-section-here/);
    expect(brokenLink("README.md", "docs/no-such-file.md")).toMatch(/no such file/);
    expect(brokenLink("README.md", "LICENSE")).toBeNull();
  });
});

/** Files that may name a document's section in words: code, configs, scripts and the documents. */
function textFiles(dir = ""): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return ["node_modules", "dist", ".git", ".data", "fixtures"].includes(e.name) ? [] : textFiles(path);
    return /\.(ts|mjs|md|ya?ml|conf|toml)$|^run$|^Dockerfile$/.test(e.name) ? [path] : [];
  });
}

const DOCUMENT_FILES: Record<string, string> = {
  README: "README.md",
  ARCHITECTURE: "ARCHITECTURE.md",
  BENCHMARKS: "BENCHMARKS.md",
  design: "docs/design.md",
  operations: "docs/operations.md",
  upstream: "docs/upstream.md",
};

/** `docs/operations.md, "Sizing the store"`, `README "Sites"`, `BENCHMARKS.md ("Soak")`: the document and the section. */
export function sectionReferencesOf(text: string): { document: string; section: string; line: number }[] {
  const found: { document: string; section: string; line: number }[] = [];
  text.split("\n").forEach((line, i) => {
    const pattern = /\b(README|ARCHITECTURE|BENCHMARKS|design|operations|upstream)(?:\.md)?[,:]?\s*\(?"([A-Za-z`][^"]{2,80})"/g;
    for (const [, name, section] of line.matchAll(pattern))
      found.push({ document: DOCUMENT_FILES[name!]!, section: section!, line: i + 1 });
  });
  return found;
}

/** Whether `markdown` has a heading that begins with `section`, or a paragraph or list item that begins with it in bold. */
export function hasSection(markdown: string, section: string): boolean {
  const wanted = section.replace(/`/g, "").toLowerCase();
  return markdown.split("\n").some((line) => {
    const heading = /^#{1,6}\s+(.*)$/.exec(line)?.[1] ?? /^(?:[-*]\s+)?\*\*([^*]+)\*\*/.exec(line)?.[1];
    return heading !== undefined && heading.replace(/`/g, "").toLowerCase().startsWith(wanted);
  });
}

describe("sections named in words", () => {
  it("are headings (or bold paragraph titles) of the document they name", () => {
    const documents = new Map<string, string>();
    const problems: string[] = [];
    let references = 0;
    // This spec's own examples name sections that do not exist, on purpose.
    for (const file of textFiles().filter((f) => f !== "test/doc-links.unit.spec.ts")) {
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

describe("references a reader can follow", () => {
  const SELF = "test/doc-links.unit.spec.ts";
  const offences = (pattern: RegExp, skip: readonly string[]) =>
    textFiles()
      .filter((f) => f !== SELF && !skip.includes(f))
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
