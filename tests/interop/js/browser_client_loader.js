// A page that loads the browser client through the server's /socket.io/client.js, in
// headless Chromium (Debian's, via playwright-core), with the internet cut off: every request
// that leaves 127.0.0.1 is aborted, except the CDN URL when a case serves it.
//
//   node browser_client_loader.js '<spec json>'
//
// spec: {"url": page URL, "page": "chat" (the demo) | "own" (docs/guides/own-app.md),
//        "cdnUrl": the CDN build's URL, "npmFile": socket.io-client's dist/socket.io.min.js,
//        "screenshots": optional folder for a PNG of each failing page,
//        "cases": [{"name": ..., "cdn": "offline" | "npm" | "tampered", "expect": "chat" | "fail"}]}
//   cdn "offline": the CDN request fails as without internet access;
//   cdn "npm": the CDN answers with the npm package's file (what cdn.socket.io serves);
//   cdn "tampered": the CDN answers with that file plus one injected line of code.
// Prints one JSON line per case: what the page did, which external URLs it asked for.
"use strict";

const fs = require("fs");
const { launchChromium } = require("./chromium");

const spec = JSON.parse(process.argv[2]);
const TIMEOUT = 15000 * Number(process.env.AIOSOCKETIO_TEST_TIMEOUT_FACTOR || "1");
const out = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");
const npmBytes = fs.readFileSync(spec.npmFile);
// The client with a line of someone else's code appended: it must never run.
const tampered = Buffer.concat([npmBytes, Buffer.from("\n;window.__tampered = true;\n")]);

async function newContext(browser, kase, external) {
  const context = await browser.newContext();
  await context.route("**/*", async (route) => {
    const url = route.request().url();
    const host = new URL(url).hostname;
    if (host === "127.0.0.1" || host === "localhost") return route.continue();
    external.push(url);
    if (url === spec.cdnUrl && (kase.cdn === "npm" || kase.cdn === "tampered")) {
      return route.fulfill({
        status: 200,
        headers: {
          "content-type": "application/javascript; charset=utf-8",
          "access-control-allow-origin": "*", // as the CDN answers (needed for SRI)
        },
        body: kase.cdn === "npm" ? npmBytes : tampered,
      });
    }
    return route.abort("internetdisconnected");
  });
  return context;
}

async function describe(page) {
  return page.evaluate(() => ({
    ioType: typeof window.io,
    source: window.aiosocketio ? window.aiosocketio.source : null,
    error: window.aiosocketio ? window.aiosocketio.error : null,
    state: document.body.dataset.state || null,
    banner: (document.getElementById("socketio-client-error") || {}).textContent || null,
    tamperedRan: window.__tampered === true,
  }));
}

async function chatPages(context) {
  const alice = await context.newPage();
  const bob = await context.newPage();
  await alice.goto(`${spec.url}?nick=alice`);
  await bob.goto(`${spec.url}?nick=bob&transport=polling`);
  for (const page of [alice, bob]) {
    await page.waitForSelector('body[data-state="connected"]', { timeout: TIMEOUT });
  }
  const text = `hello from alice ${Date.now()}`;
  await alice.fill("#input", text);
  await alice.press("#input", "Enter");
  await alice.waitForFunction(
    (t) => [...document.querySelectorAll("li.msg.mine")].some(
      (li) => li.querySelector(".text").textContent === t && li.dataset.status === "delivered",
    ),
    text,
    { timeout: TIMEOUT },
  );
  await bob.waitForFunction(
    (t) => [...document.querySelectorAll("li.msg:not(.mine)")].some(
      (li) => li.dataset.from === "alice" && li.querySelector(".text").textContent === t,
    ),
    text,
    { timeout: TIMEOUT },
  );
  return {
    ...(await describe(alice)),
    sent: text,
    transports: {
      alice: await alice.evaluate(() => window.chatSocket.io.engine.transport.name),
      bob: await bob.evaluate(() => window.chatSocket.io.engine.transport.name),
    },
  };
}

async function ownPage(context) {
  const page = await context.newPage();
  await page.goto(spec.url);
  await page.waitForSelector('body[data-state="connected"]', { timeout: TIMEOUT });
  return { ...(await describe(page)), reply: await page.textContent("#reply") };
}

async function failingPage(context, consoleErrors, name) {
  const page = await context.newPage();
  page.on("console", (msg) => {
    if (msg.type() === "error") consoleErrors.push(msg.text());
  });
  await page.goto(spec.page === "chat" ? `${spec.url}?nick=alice` : spec.url);
  await page.waitForSelector("#socketio-client-error", { state: "visible", timeout: TIMEOUT });
  // the page's own reaction (the chat's status line) runs after the loader's
  await page.waitForTimeout(100);
  const box = await page.locator("#socketio-client-error").boundingBox();
  if (spec.screenshots) await page.screenshot({ path: `${spec.screenshots}/${spec.page}-${name}.png` });
  return { ...(await describe(page)), bannerHeight: box ? box.height : 0 };
}

(async () => {
  const browser = await launchChromium();
  try {
    for (const kase of spec.cases) {
      const external = [];
      const consoleErrors = [];
      const context = await newContext(browser, kase, external);
      const pageErrors = [];
      context.on("page", (page) => page.on("pageerror", (err) => pageErrors.push(err.message)));
      try {
        let result;
        if (kase.expect === "fail") result = await failingPage(context, consoleErrors, kase.name);
        else if (spec.page === "chat") result = await chatPages(context);
        else result = await ownPage(context);
        out({ case: kase.name, ...result, external, consoleErrors, pageErrors });
      } catch (err) {
        out({ case: kase.name, failure: String(err), external, consoleErrors, pageErrors });
      } finally {
        await context.close();
      }
    }
  } finally {
    await browser.close();
  }
})();
