// Drives `rollgate serve`'s status page in Debian's Chromium, headless, as an operator would:
// signs in with a token, finds the run waiting at its gate, watches its checks and timeline,
// approves it and sees it promoted live; then, signed in with a read token, finds no buttons.
// Usage: node status-page.mjs URL OPERATOR_TOKEN READ_TOKEN SCREENSHOT.png
// Prints one JSON object of what it saw.
import { chromium } from "playwright-core";

const [url, operator, reader, screenshot] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const seen = {};
try {
  const page = await (await browser.newContext()).newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(url + "/");
  seen.signInFirst = new URL(page.url()).pathname;
  await page.fill("#token", "not-a-token-of-theirs");
  await page.click("button[type=submit]");
  seen.refused = await page.textContent(".error");
  await page.fill("#token", operator);
  await page.click("button[type=submit]");
  await page.waitForSelector("#runs tbody a");
  seen.listed = await page.textContent("#runs tbody");
  await page.click("#runs tbody a");
  await page.waitForSelector("#approve:not([hidden])");
  await page.waitForSelector("#checks tbody tr[data-check=errors] svg polyline", { state: "attached" });
  seen.lines = await page.$$eval("#checks tbody tr[data-check=errors] svg polyline", (l) => l.map((x) => x.getAttribute("class")));
  seen.waiting = await page.textContent("#waiting");
  seen.check = await page.textContent("#checks tbody tr[data-check=errors]");
  seen.timelineBefore = await page.$$eval("#timeline tr", (rows) => rows.map((r) => r.dataset.event));
  await page.click("#approve");
  await page.waitForFunction(() => document.getElementById("state").textContent === "promoted", null, { timeout: 20000 });
  await page.waitForSelector("#timeline tr[data-event=run-finished]");
  seen.said = await page.textContent("#said");
  seen.routers = await page.textContent("#routers tbody");
  seen.buttonsAfter = await page.$$eval("#actions button:not([hidden])", (b) => b.map((x) => x.id));
  await page.screenshot({ path: screenshot, fullPage: true });
  seen.errors = errors;

  const viewer = await (await browser.newContext()).newPage();
  await viewer.goto(url + "/login");
  await viewer.fill("#token", reader);
  await viewer.click("button[type=submit]");
  await viewer.waitForSelector("#runs tbody a");
  await viewer.click("#runs tbody a");
  await viewer.waitForSelector("#timeline tr[data-event=run-finished]");
  seen.viewerButtons = await viewer.$$eval("#actions button:not([hidden])", (b) => b.map((x) => x.id));
} finally {
  await browser.close();
}
console.log(JSON.stringify(seen));
