// A real browser against a running Otto (scripts/verify-browser.sh starts one):
// serves events.html on a loopback port of its own, loads it in headless Chromium
// (Debian's /usr/bin/chromium, driven by playwright-core), waits until the page has
// both streams open, posts a CallRail pre-call webhook from here, and checks that the
// EventSource and the WebSocket each received its `call.created` event, for one call.
//
// Environment:
//   OTTO_BASE      the API, e.g. http://127.0.0.1:18090 (required)
//   OTTO_TOKEN     an API token of tenant `dev` (required; the unsigned development
//                  webhook lands in `dev`)
//   PAGE_PORT      the page's port on 127.0.0.1 (required: the server must have
//                  http://127.0.0.1:PAGE_PORT in ALLOWED_ORIGINS)
//   CHROMIUM       the browser (default /usr/bin/chromium)
//   EVENT_TIMEOUT_MS  how long to wait for the events after the webhook (default 10000)
// Prints one line per check; exits 1 with the reason, the page's state and its console
// output on failure.

import { createServer } from "node:http";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const base = (process.env.OTTO_BASE || "").replace(/\/+$/, "");
const token = process.env.OTTO_TOKEN || "";
const pagePort = Number(process.env.PAGE_PORT || "");
const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";
const eventTimeout = Number(process.env.EVENT_TIMEOUT_MS || "10000");
const READY_TIMEOUT_MS = 15000;

const started = Date.now();
const elapsed = () => `${((Date.now() - started) / 1000).toFixed(1)}s`;
const pass = (text) => console.log(`browser: ok   ${text}`);
const consoleLines = [];
let server;
let browser;
let page;

class CheckFailed extends Error {}
const check = (condition, text) => {
  if (!condition) throw new CheckFailed(text);
  pass(text);
};

async function pageState() {
  if (!page) return null;
  try {
    return await page.evaluate(() => ({
      state: window.eventsState,
      received: window.received,
      status: document.getElementById("status")?.textContent,
    }));
  } catch (error) {
    return { unreadable: String(error) };
  }
}

async function servePage() {
  const html = await readFile(fileURLToPath(new URL("./events.html", import.meta.url)));
  const httpServer = createServer((request, response) => {
    const path = new URL(request.url, "http://page").pathname;
    if (request.method === "GET" && (path === "/" || path === "/events.html")) {
      response.writeHead(200, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" });
      response.end(html);
    } else if (path === "/favicon.ico") {
      response.writeHead(204);
      response.end();
    } else {
      response.writeHead(404, { "content-type": "text/plain" });
      response.end("not found\n");
    }
  });
  await new Promise((resolve, reject) => {
    httpServer.once("error", reject);
    httpServer.listen(pagePort, "127.0.0.1", resolve);
  });
  return httpServer;
}

async function main() {
  if (!base || !token || !Number.isInteger(pagePort) || pagePort <= 0) {
    throw new CheckFailed("OTTO_BASE, OTTO_TOKEN and PAGE_PORT must be set");
  }
  const origin = `http://127.0.0.1:${pagePort}`;
  server = await servePage();
  pass(`page served at ${origin}/events.html`);

  browser = await chromium.launch({
    executablePath,
    headless: true,
    // Root (CI) needs --no-sandbox; the rest keeps Chromium off the network it cannot reach.
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  pass(`launched ${executablePath} (Chromium ${browser.version()}, headless)`);

  const context = await browser.newContext();
  page = await context.newPage();
  page.on("console", (message) => consoleLines.push(`[console.${message.type()}] ${message.text()}`));
  page.on("pageerror", (error) => consoleLines.push(`[pageerror] ${error.message}`));
  page.on("requestfailed", (request) =>
    consoleLines.push(`[requestfailed] ${request.method()} ${request.url()}: ${request.failure()?.errorText}`),
  );
  await page.addInitScript((given) => {
    window.OTTO_EVENTS_TEST = given;
  }, { base, token });
  await page.goto(`${origin}/events.html`);

  // Ready: both streams open, or the page gave up.
  try {
    await page.waitForFunction(
      () => window.eventsState && (window.eventsState.ready || window.eventsState.error),
      null,
      { timeout: READY_TIMEOUT_MS, polling: 100 },
    );
  } catch {
    throw new CheckFailed(`the page did not open both streams within ${READY_TIMEOUT_MS / 1000}s`);
  }
  const ready = await pageState();
  if (ready.state.error) throw new CheckFailed(`the page failed before both streams were open: ${ready.state.error}`);
  check(ready.state.tickets, `page got two tickets with cross-origin fetch from ${origin} (CORS)`);
  check(ready.state.sse === "open", "EventSource open on /api/v1/events?ticket=");
  check(ready.state.ws === "open", "WebSocket open on /api/v1/events/ws?ticket=");

  const externalId = `browser-${Date.now()}`;
  const webhook = await fetch(`${base}/webhook/callrail/pre-call`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ call_id: externalId }),
  });
  const webhookBody = await webhook.text();
  check(webhook.ok, `webhook POST /webhook/callrail/pre-call {"call_id":"${externalId}"} answered ${webhook.status}`);
  const posted = Date.now();

  try {
    await page.waitForFunction(
      () =>
        ["sse", "ws"].every((transport) =>
          window.received[transport].some((message) => message.type === "call.created"),
        ) || window.eventsState.error,
      null,
      { timeout: eventTimeout, polling: 50 },
    );
  } catch {
    throw new CheckFailed(`both transports did not receive call.created within ${eventTimeout / 1000}s of the webhook`);
  }
  const waited = Date.now() - posted;
  const after = await pageState();
  if (after.state.error) throw new CheckFailed(`the page failed: ${after.state.error}`);
  const sse = after.received.sse.find((message) => message.type === "call.created");
  const ws = after.received.ws.find((message) => message.type === "call.created");
  check(sse, `EventSource received call.created (id ${sse?.id}, call_id ${sse?.call_id})`);
  check(ws, `WebSocket received call.created (id ${ws?.id}, call_id ${ws?.call_id})`);
  check(sse.call_id && sse.call_id === ws.call_id, `both name the same call_id ${sse.call_id}`);
  check(sse.id === ws.id, `both carry the same event id ${sse.id}`);
  const shown = await page.locator("#sse li, #ws li").allTextContents();
  check(
    shown.filter((text) => text.startsWith("call.created")).length >= 2,
    "the page shows the event under both transports",
  );
  console.log(`browser: both transports received the webhook's event ${waited} ms after it was posted (${elapsed()} in all)`);
  if (webhookBody) console.log(`browser: webhook answer: ${webhookBody}`);
}

let status = 0;
try {
  await main();
} catch (error) {
  status = 1;
  const reason = error instanceof CheckFailed ? error.message : `unexpected error: ${error?.stack || error}`;
  console.error(`browser: FAILED ${reason}`);
  const state = await pageState();
  if (state) console.error(`browser: page state: ${JSON.stringify(state)}`);
  console.error(`browser: page console (${consoleLines.length} lines):`);
  for (const line of consoleLines) console.error(`  ${line}`);
} finally {
  await browser?.close().catch(() => {});
  await new Promise((resolve) => (server ? server.close(resolve) : resolve()));
}
process.exit(status);
