// Generates src/schema.ts (openapi-typescript) and src/resources.ts (a method per operation,
// where its x-sdk-name says) from crosspost's OpenAPI document.
//
//   node scripts/generate.mjs                 # the document from `crosspost openapi`
//   node scripts/generate.mjs --openapi FILE  # or from a file
//   node scripts/generate.mjs --check         # exit 1, naming the file, when either is stale
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync, existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import openapiTS, { astToString } from "openapi-typescript";

const HERE = dirname(dirname(fileURLToPath(import.meta.url)));
const METHODS = ["get", "post", "put", "patch", "delete"];
const IDEMPOTENCY = new Set(["idempotency-key", "x-idempotency-key"]);
// Namespaces whose class also takes methods written by hand (src/extras.ts).
const EXTRAS = { media: "Media", posts: "Posts", jobs: "Jobs", events: "Events", exports: "Exports" };

const args = process.argv.slice(2);
const check = args.includes("--check");
const fileArg = args.indexOf("--openapi");

function loadDocument() {
  if (fileArg >= 0) return JSON.parse(readFileSync(args[fileArg + 1], "utf8"));
  const bin = process.env.CROSSPOST_BIN ?? "crosspost";
  try {
    return JSON.parse(execFileSync(bin, ["openapi"], { encoding: "utf8", maxBuffer: 64 << 20 }));
  } catch (error) {
    if (error.code !== "ENOENT") throw error;
    console.error(`generate: ${bin} not found; activate crosspost's venv, set CROSSPOST_BIN, or pass --openapi FILE`);
    process.exit(2);
  }
}

const camel = (text) => text.replace(/[_-]+([a-z0-9])/g, (_, c) => c.toUpperCase());
const pascal = (parts) => parts.map((p) => camel(p).replace(/^./, (c) => c.toUpperCase())).join("");
const argName = (name) => {
  const made = camel(name.replace(/[^A-Za-z0-9_]+/g, "_").toLowerCase());
  return ["default", "delete", "function", "new", "class"].includes(made) ? `${made}_` : made;
};

function streams(operation) {
  return Object.values(operation.responses ?? {}).some((a) => "text/event-stream" in (a.content ?? {}));
}

function success(document, operation) {
  for (const [status, answer] of Object.entries(operation.responses ?? {}).sort()) {
    if (!status.startsWith("2")) continue;
    const content = answer.content ?? {};
    if (Object.keys(content).length === 0) return { kind: "void", status };
    if (!("application/json" in content)) return { kind: "bytes", status };
    const ref = content["application/json"].schema?.$ref;
    if (ref) {
      const schema = document.components.schemas[ref.split("/").pop()];
      const fields = schema.properties ?? {};
      if (fields.data && "has_more" in fields && "next_cursor" in fields && fields.data.items?.$ref) {
        return { kind: "page", status, item: fields.data.items.$ref.split("/").pop() };
      }
    }
    return { kind: "json", status };
  }
  return { kind: "void", status: "204" };
}

function method(document, path, verb, operation) {
  const name = operation["x-sdk-name"].split(".");
  const id = operation.operationId;
  const op = `operations[${JSON.stringify(id)}]`;
  const params = operation.parameters ?? [];
  const pathParams = (path.match(/{([^}]+)}/g) ?? []).map((p) => p.slice(1, -1));
  const hasQuery = params.some((p) => p.in === "query");
  const idempotent = params.some((p) => p.in === "header" && IDEMPOTENCY.has(p.name.toLowerCase()));
  const request = operation.requestBody;
  const types = Object.keys(request?.content ?? {});
  const bodyKind = !request ? null : types[0] === "application/json" ? "json"
    : types[0] === "application/x-www-form-urlencoded" ? "form" : "raw";
  const answer = success(document, operation);
  const signature = pathParams.map((p) => `${argName(p)}: string`);
  if (bodyKind) {
    const type = bodyKind === "raw" ? "Body"
      : `NonNullable<${op}["requestBody"]>["content"][${JSON.stringify(types[0])}]`;
    signature.push(`body${request.required ? "" : "?"}: ${type}`);
  }
  const query = hasQuery ? `NonNullable<${op}["parameters"]["query"]>` : "never";
  signature.push(`options?: CallOptions<${query}>`);
  const url = "`" + path.replace(/{([^}]+)}/g, (_, p) => "${seg(" + argName(p) + ")}") + "`";
  const fields = [`method: "${verb.toUpperCase()}"`, `path: ${url}`];
  if (hasQuery) fields.push("query: options?.query as Record<string, unknown> | undefined");
  if (bodyKind === "json") fields.push("json: body");
  if (bodyKind === "form") fields.push("form: body as Record<string, unknown> | undefined");
  if (bodyKind === "raw") fields.push("body", `contentType: options?.headers?.["Content-Type"] ?? ${JSON.stringify(types[0])}`);
  if (idempotent) fields.push("idempotent: true");
  fields.push("options");
  const call = `{ ${fields.join(", ")} }`;
  let returns;
  let statement;
  if (answer.kind === "page") {
    returns = `PagePromise<components["schemas"][${JSON.stringify(answer.item)}]>`;
    const names = new Set(params.filter((p) => p.in === "query").map((p) => p.name));
    const cursor = names.has("cursor") ? '"cursor"' : names.has("after") ? '"after"' : "null";
    statement = `return new PagePromise(this.t, ${call}, ${cursor});`;
  } else if (answer.kind === "json") {
    returns = `Promise<${op}["responses"][${JSON.stringify(answer.status)}]["content"]["application/json"]>`;
    statement = `return this.t.request(${call});`;
  } else if (answer.kind === "bytes") {
    returns = "Promise<Uint8Array>";
    statement = `return this.t.raw(${call}).then(async (r) => new Uint8Array(await r.arrayBuffer()));`;
  } else {
    returns = "Promise<void>";
    statement = `return this.t.request(${call});`;
  }
  const summary = (operation.summary ?? "").trim();
  const description = (operation.description ?? "").trim().split("\n\n")[0];
  const doc = [summary, description, `${verb.toUpperCase()} ${path}`].filter(Boolean)
    .join("\n\n").replace(/\*\//g, "*\\/").split("\n").map((l) => `   * ${l}`.trimEnd()).join("\n");
  return {
    namespace: name.slice(0, -1),
    source: `  /**\n${doc}\n   */\n  ${camel(name.at(-1))}(${signature.join(", ")}): ${returns} {\n    ${statement}\n  }\n`,
  };
}

function resources(document) {
  const root = { parts: [], methods: [], children: new Map() };
  for (const [path, item] of Object.entries(document.paths)) {
    for (const [verb, operation] of Object.entries(item)) {
      if (!METHODS.includes(verb) || streams(operation)) continue;
      const made = method(document, path, verb, operation);
      let node = root;
      for (const part of made.namespace) {
        if (!node.children.has(part)) node.children.set(part, { parts: [...node.parts, part], methods: [], children: new Map() });
        node = node.children.get(part);
      }
      node.methods.push(made.source);
    }
  }
  const nodes = [];
  const walk = (node) => { for (const child of node.children.values()) walk(child); nodes.push(node); };
  walk(root);
  const used = new Set();
  const classes = nodes.map((node) => {
    const name = pascal(node.parts) || "Resources";
    const extra = EXTRAS[node.parts.join(".")];
    if (extra) used.add(`${extra}Extras`);
    const base = extra ? `${extra}Extras` : "Resource";
    const members = [...node.children.entries()].map(([part, child]) => `  readonly ${camel(part)}: ${pascal(child.parts)};`);
    const init = [...node.children.entries()].map(([part, child]) => `    this.${camel(part)} = new ${pascal(child.parts)}(t);`);
    const ctor = init.length ? `  constructor(t: Transport) {\n    super(t);\n${init.join("\n")}\n  }\n` : "";
    const doc = node.parts.length ? `\`${node.parts.join(".")}\`` : "Every group of the API";
    return `/** ${doc}. */\nexport class ${name} extends ${base} {\n${members.join("\n")}${members.length ? "\n" : ""}${ctor}${node.methods.join("\n")}}\n`;
  });
  const header = [
    "// Every endpoint of the API, grouped by resource. Generated by scripts/generate.mjs from the",
    "// OpenAPI document: do not edit; change the API (or the generator) and regenerate.",
    "/* eslint-disable */",
    'import type { components, operations } from "./schema.js";',
    'import { type Body, type CallOptions, PagePromise, Resource, type Transport, seg } from "./core.js";',
    `import { ${[...used].sort().join(", ")} } from "./extras.js";`,
    "",
    "",
  ].join("\n");
  return header + classes.join("\n");
}

const document = loadDocument();
const schema = "// The API's types. Generated by scripts/generate.mjs (openapi-typescript) from the OpenAPI\n" +
  "// document: do not edit.\n" + astToString(await openapiTS(document, { defaultNonNullable: false }));
const files = { [join(HERE, "src/schema.ts")]: schema, [join(HERE, "src/resources.ts")]: resources(document) };
let stale = 0;
for (const [path, text] of Object.entries(files)) {
  const current = existsSync(path) ? readFileSync(path, "utf8") : null;
  if (current === text) continue;
  stale++;
  if (check) console.log(`generate: ${path.slice(HERE.length + 1)} is stale; run npm run generate`);
  else {
    writeFileSync(path, text);
    console.log(`generate: wrote ${path.slice(HERE.length + 1)}`);
  }
}
process.exit(check && stale ? 1 : 0);
