/**
 * Markdown for the generated reference (docs/reference/): tables, headings and their anchors as
 * GitHub makes them, and JSON Schema read as a table of fields — so a person reads the OpenAPI and
 * AsyncAPI documents without reading JSON.
 */

// biome-ignore lint/suspicious/noExplicitAny: OpenAPI and AsyncAPI documents, walked as plain JSON
type Json = Record<string, any>;

/** A cell's text on one line, its pipes escaped. */
export function cell(text: string | number | boolean | undefined): string {
  return String(text ?? "")
    .replace(/\s*\n\s*/g, " ")
    .replace(/\|/g, "\\|")
    .trim();
}

/** `text` as inline code, with a fence long enough for backticks inside it. */
export function code(text: string | number): string {
  const value = String(text);
  const fence = value.includes("`") ? "``" : "`";
  return fence === "``" ? `\`\` ${value} \`\`` : `\`${value}\``;
}

/**
 * A Markdown table.
 * @example table(["a", "b"], [["1", "2"]]) // "| a | b |\n| --- | --- |\n| 1 | 2 |"
 */
export function table(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]) => `| ${cells.map((c) => cell(c)).join(" | ")} |`;
  return [line(headers), `| ${headers.map(() => "---").join(" | ")} |`, ...rows.map(line)].join("\n");
}

/**
 * The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to dashes.
 * @example githubSlug("The cancel race") // "the-cancel-race"
 */
export function githubSlug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/<[^>]+>/g, "")
    .replace(/[^\p{L}\p{N}\p{M}\s_-]/gu, "")
    .replace(/\s/g, "-");
}

/**
 * Every anchor a Markdown file has: its headings' slugs (a repeated one gets `-1`, `-2`, as on
 * GitHub) and explicit `<a id="…">` / `<a name="…">`. Headings inside code fences are not headings.
 */
export function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  let fence: string | null = null;
  for (const line of markdown.split("\n")) {
    const fenceMark = /^\s*(```+|~~~+)/.exec(line)?.[1];
    if (fenceMark) {
      if (fence === null) fence = fenceMark;
      else if (fenceMark.startsWith(fence)) fence = null;
      continue;
    }
    if (fence !== null) continue;
    for (const [, id] of line.matchAll(/<a\s+(?:id|name)="([^"]+)"/g)) anchors.add(id!);
    const heading = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line)?.[1];
    if (heading === undefined) continue;
    const base = githubSlug(heading.replace(/`/g, "").replace(/\[([^\]]*)\]\([^)]*\)/g, "$1"));
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    anchors.add(n === 0 ? base : `${base}-${n}`);
  }
  return anchors;
}

/** `$ref` → the schema it names in `doc`; anything else as it is. */
export function deref(schema: Json, doc: Json): Json {
  if (typeof schema?.$ref !== "string") return schema;
  const target = schema.$ref
    .slice(2)
    .split("/")
    .reduce((at: Json | undefined, key: string) => at?.[key.replace(/~1/g, "/").replace(/~0/g, "~")], doc);
  if (!target) throw new Error(`${schema.$ref} points at nothing in the document`);
  return target;
}

/** Without `null` among its alternatives: `X or null` is X, nullable. */
function nonNull(schema: Json, doc: Json): { schema: Json; nullable: boolean } {
  const s = deref(schema, doc);
  const alternatives = s.anyOf ?? s.oneOf;
  if (Array.isArray(alternatives)) {
    const rest = alternatives.filter((a: Json) => deref(a, doc).type !== "null");
    if (rest.length === 1 && rest.length < alternatives.length) return { schema: deref(rest[0], doc), nullable: true };
  }
  return { schema: s, nullable: false };
}

/** A schema's type in a few words: `string`, `integer`, `"CREATED"`, `array of object`, `one of 8 objects`. */
export function typeOf(schema: Json, doc: Json): string {
  const { schema: s, nullable } = nonNull(schema, doc);
  const orNull = nullable ? " or null" : "";
  if ("const" in s) return `${code(JSON.stringify(s.const))}${orNull}`;
  if (Array.isArray(s.enum)) return `${s.enum.map((e: unknown) => code(String(e))).join(", ")}${orNull}`;
  const alternatives = s.anyOf ?? s.oneOf;
  if (Array.isArray(alternatives)) {
    const kinds = [...new Set(alternatives.map((a: Json) => typeOf(a, doc)))];
    return kinds.length <= 3 ? `${kinds.join(" or ")}${orNull}` : `one of ${alternatives.length} shapes${orNull}`;
  }
  if (s.type === "array") return `array of ${s.items ? typeOf(s.items, doc) : "anything"}${orNull}`;
  if (s.type === "object" && s.additionalProperties && !s.properties) return `object of ${typeOf(s.additionalProperties, doc)}${orNull}`;
  const type = Array.isArray(s.type) ? s.type.join(" or ") : (s.type ?? "any");
  return `${type}${s.format ? ` (${s.format})` : ""}${orNull}`;
}

/** A schema's constraints and default in words: `1-64 characters`, `> 0`, `≤ 500 items`, `default "USD"`. */
export function rulesOf(schema: Json, doc: Json): string {
  const { schema: s } = nonNull(schema, doc);
  const rules: string[] = [];
  if (s.minLength !== undefined && s.maxLength !== undefined) rules.push(`${s.minLength}-${s.maxLength} characters`);
  else if (s.minLength !== undefined) rules.push(`≥ ${s.minLength} characters`);
  else if (s.maxLength !== undefined) rules.push(`≤ ${s.maxLength} characters`);
  if (s.pattern !== undefined) rules.push(`matches ${code(s.pattern)}`);
  if (s.exclusiveMinimum !== undefined) rules.push(`> ${s.exclusiveMinimum}`);
  if (s.minimum !== undefined) rules.push(`≥ ${s.minimum}`);
  if (s.maximum !== undefined && s.maximum < Number.MAX_SAFE_INTEGER) rules.push(`≤ ${s.maximum.toLocaleString("en-US")}`);
  if (s.minItems !== undefined) rules.push(`≥ ${s.minItems} items`);
  if (s.maxItems !== undefined) rules.push(`≤ ${s.maxItems} items`);
  if (s.default !== undefined) rules.push(`default ${code(JSON.stringify(s.default))}`);
  return rules.join("; ");
}

/** One row of a field table: where the field is, its type, whether it is required, its rules and meaning. */
export interface FieldRow {
  path: string;
  type: string;
  required: boolean;
  rules: string;
  description: string;
}

/**
 * An object schema's fields, nested ones as `items[].sku` / `checks.nats.ok`, as far as `depth`
 * levels (a field whose type is one of several objects stops there: its type says so).
 */
export function fieldsOf(schema: Json, doc: Json, prefix = "", depth = 3): FieldRow[] {
  const { schema: s } = nonNull(schema, doc);
  if (s.type === "array" && s.items) return fieldsOf(s.items, doc, `${prefix}[]`, depth);
  if (s.type !== "object" || !s.properties || depth === 0) return [];
  const required = new Set<string>(s.required ?? []);
  return Object.entries<Json>(s.properties).flatMap(([name, property]) => {
    const path = prefix ? `${prefix}.${name}` : name;
    const inner = nonNull(property, doc).schema;
    const row: FieldRow = {
      path,
      type: typeOf(property, doc),
      required: required.has(name),
      rules: rulesOf(property, doc),
      description: deref(property, doc).description ?? inner.description ?? "",
    };
    return [row, ...fieldsOf(property, doc, path, depth - 1)];
  });
}

/** A field table: field, type, required, rules, meaning (empty columns left out). */
export function fieldTable(rows: readonly FieldRow[], options: { required?: boolean } = {}): string {
  const showRequired = options.required ?? true;
  const showRules = rows.some((r) => r.rules);
  const headers = ["field", "type", ...(showRequired ? ["required"] : []), ...(showRules ? ["rules"] : []), "meaning"];
  return table(
    headers,
    rows.map((r) => [
      code(r.path),
      r.type,
      ...(showRequired ? [r.required ? "yes" : "no"] : []),
      ...(showRules ? [r.rules] : []),
      r.description,
    ]),
  );
}

/** The banner at the top of each generated page. */
export function generatedNote(source: string): string {
  return `<!-- Generated by \`npm run docs\` (scripts/generate-reference.ts) from ${source}. Do not edit: change the source and run npm run docs. -->`;
}
