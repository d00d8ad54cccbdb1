// Drives the real yaml-language-server (npm) over stdio as an editor does, and reports what a
// person would see. Usage: node yaml-ls.mjs SPEC.json, where SPEC is
//   { "files": [ { "path": "...", "hoverKeys": true, "completeAt": [[line, character]] } ] }
// (0-based positions). Each file is opened with its own text; its schema comes from its
// `# yaml-language-server: $schema=...` modeline. Prints one JSON object:
//   { "files": [ { "path", "diagnostics": [{line, character, message}],
//                  "hovers": [{line, character, key, path (the keys above it), text}],
//                  "completions": [{at, items: [{label, insertText}]}] } ] }
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseDocument, isMap, isSeq, isPair, isScalar } from "yaml";

const here = dirname(fileURLToPath(import.meta.url));
const spec = JSON.parse(readFileSync(process.argv[2], "utf8"));

const server = spawn(
  process.execPath,
  [join(here, "node_modules/yaml-language-server/bin/yaml-language-server"), "--stdio"],
  { stdio: ["pipe", "pipe", "inherit"] },
);

// JSON-RPC over stdio with Content-Length framing, as LSP has it.
let buffer = Buffer.alloc(0);
let nextId = 1;
const pending = new Map();
const diagnostics = new Map();
const waiters = [];
server.stdout.on("data", (chunk) => {
  buffer = Buffer.concat([buffer, chunk]);
  for (;;) {
    const end = buffer.indexOf("\r\n\r\n");
    if (end < 0) return;
    const length = Number(/Content-Length: (\d+)/i.exec(buffer.subarray(0, end).toString())[1]);
    if (buffer.length < end + 4 + length) return;
    const message = JSON.parse(buffer.subarray(end + 4, end + 4 + length).toString());
    buffer = buffer.subarray(end + 4 + length);
    receive(message);
  }
});

function send(message) {
  const body = Buffer.from(JSON.stringify({ jsonrpc: "2.0", ...message }));
  server.stdin.write(`Content-Length: ${body.length}\r\n\r\n`);
  server.stdin.write(body);
}

function request(method, params) {
  const id = nextId++;
  send({ id, method, params });
  return new Promise((resolve, reject) => pending.set(id, { resolve, reject }));
}

function receive(m) {
  if (m.id !== undefined && pending.has(m.id) && m.method === undefined) {
    const { resolve, reject } = pending.get(m.id);
    pending.delete(m.id);
    if (m.error) reject(new Error(m.error.message));
    else resolve(m.result);
  } else if (m.method === "textDocument/publishDiagnostics") {
    diagnostics.set(m.params.uri, m.params.diagnostics);
    for (const w of waiters.splice(0)) w();
  } else if (m.id !== undefined && m.method) {
    // The server asks for its configuration: the settings an editor would give.
    const result =
      m.method === "workspace/configuration"
        ? m.params.items.map(() => ({ validate: true, hover: true, completion: true, schemaStore: { enable: false } }))
        : null;
    send({ id: m.id, result });
  }
}

function diagnosticsOf(uri) {
  return new Promise((resolve) => {
    const check = () => (diagnostics.has(uri) ? resolve(diagnostics.get(uri)) : waiters.push(check));
    check();
  });
}

// Every mapping key of the document, with its position.
function keys(text) {
  const lineStarts = [0];
  for (let i = 0; i < text.length; i++) if (text[i] === "\n") lineStarts.push(i + 1);
  const position = (offset) => {
    let line = 0;
    while (line + 1 < lineStarts.length && lineStarts[line + 1] <= offset) line++;
    return { line, character: offset - lineStarts[line] };
  };
  const found = [];
  const visit = (node, path) => {
    if (isMap(node)) {
      for (const pair of node.items) {
        if (isPair(pair) && isScalar(pair.key) && pair.key.range) {
          const key = String(pair.key.value);
          found.push({ key, path, ...position(pair.key.range[0]) });
          visit(pair.value, [...path, key]);
        }
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, i) => visit(item, [...path, String(i)]));
    }
  };
  visit(parseDocument(text).contents, []);
  return found;
}

const text = (contents) =>
  typeof contents === "string"
    ? contents
    : Array.isArray(contents)
      ? contents.map(text).join("\n")
      : (contents?.value ?? "");

await request("initialize", {
  processId: process.pid,
  rootUri: pathToFileURL(process.cwd()).href,
  capabilities: {
    textDocument: {
      hover: { contentFormat: ["markdown", "plaintext"] },
      completion: { completionItem: { snippetSupport: true, documentationFormat: ["markdown"] } },
      publishDiagnostics: {},
    },
    workspace: { configuration: true },
  },
});
send({ method: "initialized", params: {} });
send({
  method: "workspace/didChangeConfiguration",
  params: { settings: { yaml: { validate: true, hover: true, completion: true, schemaStore: { enable: false } } } },
});

const out = { files: [] };
for (const f of spec.files) {
  const path = resolve(f.path);
  const uri = pathToFileURL(path).href;
  const source = readFileSync(path, "utf8");
  send({ method: "textDocument/didOpen", params: { textDocument: { uri, languageId: "yaml", version: 1, text: source } } });
  const report = { path: f.path, diagnostics: [], hovers: [], completions: [] };
  for (const d of await diagnosticsOf(uri)) {
    report.diagnostics.push({ line: d.range.start.line, character: d.range.start.character, message: d.message });
  }
  if (f.hoverKeys) {
    for (const k of keys(source)) {
      // On the key's middle, where a person points.
      const middle = k.character + Math.floor(k.key.length / 2);
      const hover = await request("textDocument/hover", { textDocument: { uri }, position: { line: k.line, character: middle } });
      report.hovers.push({ ...k, text: hover ? text(hover.contents) : "" });
    }
  }
  for (const [line, character] of f.completeAt ?? []) {
    const list = await request("textDocument/completion", { textDocument: { uri }, position: { line, character } });
    const items = (Array.isArray(list) ? list : (list?.items ?? [])).map((i) => ({
      label: i.label,
      insertText: i.textEdit?.newText ?? i.insertText ?? i.label,
    }));
    report.completions.push({ at: [line, character], items });
  }
  out.files.push(report);
}
await request("shutdown", null);
send({ method: "exit" });
// Exit only once a large report has reached the pipe.
process.stdout.write(JSON.stringify(out) + "\n", () => process.exit(0));
