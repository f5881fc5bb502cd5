/**
 * Whether the documents' links and named sections resolve: relative links and `#anchor`s in
 * Markdown (anchors as GitHub makes them, scripts/reference/markdown.ts), and sections named in
 * words (`docs/operations.md, "Sizing the store"`) in any file. test/doc-links.unit.spec.ts runs
 * them over the repository.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { anchorsOf } from "./markdown.ts";

/** The Markdown files under `dir` (relative to `root`), as paths relative to `root`. */
export function markdownUnder(root: string, dir: string): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? markdownUnder(root, join(dir, e.name)) : e.name.endsWith(".md") ? [join(dir, e.name)] : [],
  );
}

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

/** What is wrong with one link from `file` (relative to `root`), or null when it resolves. */
export function brokenLink(root: string, file: string, target: string): string | null {
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

/** Files that may name a document's section in words: code, configs, scripts and the documents. */
export function textFiles(root: string, dir = ""): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return ["node_modules", "dist", ".git", ".data", "fixtures"].includes(e.name) ? [] : textFiles(root, path);
    return /\.(ts|mjs|md|ya?ml|conf|toml)$|^run$|^Dockerfile$/.test(e.name) ? [path] : [];
  });
}

/** The documents a section may be named in, by the word that names them. */
export const DOCUMENT_FILES: Record<string, string> = {
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
    const pattern =
      /(?<![\w/.-])(?:docs\/)?(README|ARCHITECTURE|BENCHMARKS|design|operations|upstream)(?:\.md)?[,:]?\s*\(?"([A-Za-z`][^"]{2,80})"/g;
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
    return heading?.replace(/`/g, "").toLowerCase().startsWith(wanted) === true;
  });
}

/**
 * This repository's documents named by path in any text (a comment, a config), from the root:
 * `docs/reference/http-api.md#errors`, `README.md`. Another project's (`…/data-ingestion/README.md`,
 * `docs/victorialogs/…`) are not ours to check.
 */
export function documentPathsOf(text: string): { target: string; line: number }[] {
  const found: { target: string; line: number }[] = [];
  text.split("\n").forEach((line, i) => {
    for (const [target] of line.matchAll(/(?<![\w./-])(?:docs\/(?:reference\/)?[\w.-]+|README|ARCHITECTURE|BENCHMARKS)\.md(?:#[\w-]+)?/g))
      found.push({ target, line: i + 1 });
  });
  return found;
}
