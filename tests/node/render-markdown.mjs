// Renders Markdown files as GitHub shows them, in Debian's Chromium, headless: the Markdown as
// HTML (marked, GitHub-flavoured), each ```mermaid block drawn by Mermaid 11, and each block
// also parsed by Mermaid 10.9, since GitHub does not say which Mermaid it serves.
// Usage: node render-markdown.mjs OUT_DIR FILE.md...
// Writes OUT_DIR/<name>.png (a screenshot) and prints one JSON object:
//   { "files": [ { "path", "charts": [ { "drawn", "lines", "points", "error" } ],
//                  "mermaid10": [ null | "parse error" ], "text" } ] }
// where `lines` counts the plotted lines of an xychart and `points` its x-axis labels.
import { readFileSync, mkdirSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { marked } from "marked";
import { chromium } from "playwright-core";
import { JSDOM } from "jsdom";

const here = dirname(fileURLToPath(import.meta.url));
const [outDir, ...files] = process.argv.slice(2);
mkdirSync(outDir, { recursive: true });

// Mermaid 10 parses under jsdom, as in tests/node/mermaid.mjs.
const dom = new JSDOM("<!DOCTYPE html><body></body>");
globalThis.window = dom.window;
globalThis.document = dom.window.document;
globalThis.DOMParser = dom.window.DOMParser;
const { default: mermaid10 } = await import("mermaid10");

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
});
const mermaidJs = join(here, "node_modules/mermaid/dist/mermaid.min.js");
const out = { files: [] };
for (const file of files) {
  const markdown = readFileSync(file, "utf8");
  const sources = [...markdown.matchAll(/```mermaid\n([\s\S]*?)```/g)].map((m) => m[1]);
  const parsed10 = [];
  for (const s of sources) {
    try {
      await mermaid10.parse(s);
      parsed10.push(null);
    } catch (e) {
      parsed10.push(String(e.message || e).slice(0, 300));
    }
  }
  const body = marked.parse(markdown, { gfm: true });
  const page = await browser.newPage({ viewport: { width: 1000, height: 800 } });
  await page.setContent(
    `<!DOCTYPE html><html><head><meta charset="utf-8"></head><body style="font-family: sans-serif; max-width: 900px; margin: 1em auto">${body}</body></html>`,
  );
  await page.addScriptTag({ path: mermaidJs });
  const charts = await page.evaluate(async () => {
    const blocks = [...document.querySelectorAll("pre > code.language-mermaid")];
    const results = [];
    window.mermaid.initialize({ startOnLoad: false });
    for (const [i, code] of blocks.entries()) {
      const holder = document.createElement("div");
      code.parentElement.replaceWith(holder);
      try {
        const { svg } = await window.mermaid.render(`chart${i}`, code.textContent);
        holder.innerHTML = svg;
        const el = holder.querySelector("svg");
        results.push({
          drawn: !!el && el.getBoundingClientRect().height > 50,
          lines: el.querySelectorAll("g[class*='line-plot'] path").length,
          points: el.querySelectorAll("g.bottom-axis g.label text, g.bottom-axis text").length,
          error: el.textContent.includes("Syntax error") ? el.textContent.slice(0, 200) : null,
        });
      } catch (e) {
        results.push({ drawn: false, lines: 0, points: 0, error: String(e.message || e).slice(0, 300) });
      }
    }
    return results;
  });
  const text = await page.evaluate(() => document.body.innerText);
  await page.screenshot({ path: join(outDir, `${basename(file)}.png`), fullPage: true });
  await page.close();
  out.files.push({ path: file, charts, mermaid10: parsed10, text });
}
await browser.close();
process.stdout.write(JSON.stringify(out) + "\n", () => process.exit(0));
