// Parses each file given with Mermaid's own parser; exits 1 if any is invalid.
// Mermaid expects a browser; jsdom stands in for it.
import { JSDOM } from 'jsdom';
import { readFileSync } from 'node:fs';

const dom = new JSDOM('<!DOCTYPE html><body></body>');
globalThis.window = dom.window;
globalThis.document = dom.window.document;
globalThis.DOMParser = dom.window.DOMParser;
const { default: mermaid } = await import('mermaid');

let invalid = 0;
for (const file of process.argv.slice(2)) {
  try {
    await mermaid.parse(readFileSync(file, 'utf8'));
    console.log(`ok ${file}`);
  } catch (e) {
    invalid++;
    console.log(`INVALID ${file}: ${String(e.message || e).slice(0, 500)}`);
  }
}
process.exit(invalid ? 1 : 0);
