/**
 * `GET /docs`: the service's OpenAPI document as one HTML page, rendered on the server. No script
 * and nothing loaded from anywhere else (the page's CSP forbids both), so it works offline, in the
 * bundle and on Deno alike. Pure: document in, HTML out.
 */

const METHODS = ["get", "put", "post", "delete", "patch", "head", "options", "trace"] as const;

type Json = Record<string, unknown>;

const isObject = (x: unknown): x is Json => typeof x === "object" && x !== null && !Array.isArray(x);
const objectOr = (x: unknown): Json => (isObject(x) ? x : {});

function esc(text: unknown): string {
  return String(text ?? "")
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&#39;");
}

/** Markdown-ish descriptions: only `code` spans are rendered, the rest is text. */
function prose(text: unknown): string {
  return esc(text).replace(/`([^`]+)`/g, "<code>$1</code>");
}

/** Pretty JSON of a schema, its `$ref`s turned into links to the components section. */
function schemaBlock(schema: unknown): string {
  const json = esc(JSON.stringify(schema, null, 2));
  const linked = json.replace(
    /(&quot;\$ref&quot;: &quot;)#\/components\/schemas\/([^&]+)(&quot;)/g,
    (_m, before: string, name: string, after: string) => `${before}<a href="#schema-${name}">#/components/schemas/${name}</a>${after}`,
  );
  return `<pre>${linked}</pre>`;
}

function anchor(method: string, path: string): string {
  return `op-${method}-${path.replace(/[^A-Za-z0-9]+/g, "-").replace(/^-|-$/g, "")}`;
}

function contentRows(content: unknown, open = false): string {
  return Object.entries(objectOr(content))
    .map(([media, m]) => {
      const schema = objectOr(m).schema;
      const details = `<details${open ? " open" : ""}><summary>schema</summary>${schemaBlock(schema)}</details>`;
      return `<div class="media"><code>${esc(media)}</code>${schema === undefined ? "" : details}</div>`;
    })
    .join("");
}

function parametersTable(parameters: unknown): string {
  if (!Array.isArray(parameters) || parameters.length === 0) return "";
  const rows = parameters
    .map((p) => {
      const q = objectOr(p);
      return `<tr><td><code>${esc(q.name)}</code></td><td>${esc(q.in)}</td><td>${q.required ? "yes" : "no"}</td><td>${prose(q.description)}${q.schema === undefined ? "" : `<details><summary>schema</summary>${schemaBlock(q.schema)}</details>`}</td></tr>`;
    })
    .join("");
  return `<h4>Parameters</h4><table><thead><tr><th>name</th><th>in</th><th>required</th><th></th></tr></thead><tbody>${rows}</tbody></table>`;
}

function responsesTable(responses: unknown): string {
  const rows = Object.entries(objectOr(responses))
    .map(([status, r]) => {
      const res = objectOr(r);
      const headers = Object.entries(objectOr(res.headers))
        .map(([name, h]) => `<div class="header">header <code>${esc(name)}</code>: ${prose(objectOr(h).description)}</div>`)
        .join("");
      return `<tr><td class="status s${esc(status.charAt(0))}">${esc(status)}</td><td>${prose(res.description)}${headers}${contentRows(res.content)}</td></tr>`;
    })
    .join("");
  return `<h4>Responses</h4><table><tbody>${rows}</tbody></table>`;
}

function operationSection(method: string, path: string, op: Json): string {
  const security =
    Array.isArray(op.security) && op.security.length > 0
      ? `<p class="auth">Needs <code>Authorization: Bearer &lt;token&gt;</code>.</p>`
      : "";
  const body = objectOr(op.requestBody);
  const requestBody = isObject(op.requestBody)
    ? `<h4>Request body${body.required ? " (required)" : ""}</h4>${body.description ? `<p>${prose(body.description)}</p>` : ""}${contentRows(body.content, true)}`
    : "";
  return `<section class="op" id="${anchor(method, path)}">
<h3><span class="method ${esc(method)}">${esc(method.toUpperCase())}</span> <code>${esc(path)}</code></h3>
${op.summary ? `<p class="summary">${prose(op.summary)}</p>` : ""}${op.description ? `<p>${prose(op.description)}</p>` : ""}${security}
${parametersTable(op.parameters)}${requestBody}${responsesTable(op.responses)}
</section>`;
}

/**
 * The HTML page of an OpenAPI document: every operation with its parameters, body and answers,
 * the schemas as JSON (their `$ref`s linked), and a link to the document itself.
 *
 * @example
 * c.html(renderApiDocsPage(await generateApiDocument(app, info)))
 */
export function renderApiDocsPage(document: unknown): string {
  const doc = objectOr(document);
  const info = objectOr(doc.info);
  const operations: Array<{ method: string; path: string; op: Json }> = [];
  for (const [path, item] of Object.entries(objectOr(doc.paths))) {
    for (const method of METHODS) {
      const op = objectOr(item)[method];
      if (isObject(op)) operations.push({ method, path, op });
    }
  }
  // The service's own routes first, then those every service has (health, metrics, these documents).
  const COMMON = ["operations", "documentation"];
  const tagOf = (op: Json) => (Array.isArray(op.tags) && typeof op.tags[0] === "string" ? op.tags[0] : "other");
  const rank = (op: Json) => COMMON.indexOf(tagOf(op));
  operations.sort((a, b) => rank(a.op) - rank(b.op));
  const index = operations
    .map(
      ({ method, path, op }) =>
        `<li><a href="#${anchor(method, path)}"><span class="method ${esc(method)}">${esc(method.toUpperCase())}</span> <code>${esc(path)}</code></a> ${prose(op.summary)}</li>`,
    )
    .join("");
  const schemas = Object.entries(objectOr(objectOr(doc.components).schemas))
    .map(
      ([name, schema]) =>
        `<section class="schema" id="schema-${esc(name)}"><h3><code>${esc(name)}</code></h3>${schemaBlock(schema)}</section>`,
    )
    .join("");
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(info.title)} — API</title>
<style>
body { font: 15px/1.5 system-ui, sans-serif; margin: 0 auto; max-width: 960px; padding: 1rem 1.5rem 4rem; color: #1d2330; }
h1 { margin-bottom: 0.2rem; } h2 { margin-top: 2.5rem; border-bottom: 1px solid #ccd; }
code, pre { font: 13px/1.4 ui-monospace, monospace; }
pre { background: #f5f6fa; padding: 0.6rem; overflow-x: auto; margin: 0.3rem 0; }
.op { border: 1px solid #dde; border-radius: 6px; padding: 0 1rem 0.6rem; margin: 1rem 0; }
.method { display: inline-block; min-width: 3.6rem; text-align: center; border-radius: 4px; color: #fff; font: bold 12px/1.8 ui-monospace, monospace; }
.get { background: #2f6fb2; } .post { background: #2d8a4e; } .put, .patch { background: #b7791f; } .delete { background: #b83232; } .head, .options, .trace { background: #667; }
table { border-collapse: collapse; width: 100%; } td, th { border-top: 1px solid #e4e4ee; padding: 0.3rem 0.5rem; vertical-align: top; text-align: left; }
.status { font-weight: bold; width: 4rem; } .s2 { color: #2d8a4e; } .s4 { color: #b7791f; } .s5 { color: #b83232; }
.summary { font-weight: 600; } .auth { color: #8a4b00; } .media { margin-top: 0.2rem; } details summary { cursor: pointer; color: #555; font-size: 13px; }
ul.index { list-style: none; padding: 0; } ul.index li { margin: 0.2rem 0; } a { color: #2f5faa; text-decoration: none; }
</style>
</head>
<body>
<h1>${esc(info.title)}</h1>
<p>version ${esc(info.version)} · OpenAPI ${esc(doc.openapi)} · <a href="/openapi.json">/openapi.json</a></p>
${info.description ? `<p>${prose(info.description)}</p>` : ""}
<h2>Operations</h2>
<ul class="index">${index}</ul>
${operations.map(({ method, path, op }) => operationSection(method, path, op)).join("\n")}
${schemas ? `<h2>Schemas</h2>${schemas}` : ""}
</body>
</html>
`;
}
