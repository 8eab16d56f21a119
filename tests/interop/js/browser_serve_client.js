// Headless Chromium (Debian's /usr/bin/chromium, via playwright-core) opens a page whose
// only script tag is <script src="/socket.io/socket.io.min.js">, served by the server
// under test (Node's serveClient), then connects and exchanges an event with an ack.
//
//   node browser_serve_client.js http://127.0.0.1:N/
//
// Prints {"ioType": ..., "ack": ..., "transport": ..., "cached": ...} or {"error": ...}.
"use strict";

const { launchChromium } = require("./chromium");

const url = process.argv[2];
const out = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");

(async () => {
  const browser = await launchChromium();
  try {
    const page = await browser.newPage();
    const scripts = [];
    page.on("response", (response) => {
      if (response.url().includes("/socket.io/socket.io.min.js")) {
        scripts.push({ status: response.status(), etag: response.headers()["etag"] || null });
      }
    });
    await page.goto(url);
    const result = await page.evaluate(
      () =>
        new Promise((resolve) => {
          const ioType = typeof window.io;
          if (ioType !== "function") return resolve({ ioType });
          const socket = window.io({ reconnection: false });
          socket.on("connect_error", (err) => resolve({ ioType, error: err.message }));
          socket.on("connect", () => {
            socket.emit("hello", "from chromium", (answer) => {
              const transport = socket.io.engine.transport.name;
              socket.disconnect();
              resolve({ ioType, ack: answer, transport });
            });
          });
          setTimeout(() => resolve({ ioType, error: "timeout" }), 10000);
        })
    );
    // a reload revalidates the script with its ETag
    await page.reload();
    await page.waitForFunction(() => typeof window.io === "function", null, { timeout: 10000 });
    out({ ...result, scripts });
  } catch (err) {
    out({ error: String(err) });
  } finally {
    await browser.close();
  }
})();
