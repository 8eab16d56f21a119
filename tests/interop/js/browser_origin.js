// Cross-site WebSocket hijacking, tried by a real browser (headless Chromium).
//
//   node browser_origin.js http://127.0.0.1:N PORT_A PORT_B
//
// It serves a blank page on each of the given ports (127.0.0.1, so each is an origin of
// its own that Chromium lets reach the loopback server), and from each page and on each
// transport the official browser client (socket.io.min.js) tries to connect to the
// server. Prints one line per attempt:
//   {"origin": ..., "transport": ..., "result": "connected" | "refused", "detail": ...}
"use strict";

const http = require("http");
const path = require("path");
const { launchChromium } = require("./chromium");

const [server, ...ports] = process.argv.slice(2);

function servePage(port) {
  const pages = http.createServer((req, res) => {
    res.writeHead(200, { "content-type": "text/html" });
    res.end("<html><body>page</body></html>");
  });
  return new Promise((resolve) => pages.listen(Number(port), "127.0.0.1", () => resolve(pages)));
}
const out = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");
const bundle = path.join(
  path.dirname(require.resolve("socket.io-client/package.json")),
  "dist",
  "socket.io.min.js"
);

(async () => {
  const pages = await Promise.all(ports.map(servePage));
  const browser = await launchChromium();
  try {
    for (const port of ports) {
      const origin = `http://127.0.0.1:${port}`;
      for (const transport of ["websocket", "polling"]) {
        const page = await browser.newPage();
        const logs = [];
        page.on("console", (message) => logs.push(message.text()));
        await page.goto(origin + "/");
        await page.addScriptTag({ path: bundle });
        const result = await page.evaluate(
          ([url, t]) =>
            new Promise((resolve) => {
              // eslint-disable-next-line no-undef
              const socket = io(url, { transports: [t], reconnection: false, timeout: 5000 });
              socket.on("connect", () => {
                socket.close();
                resolve({ result: "connected" });
              });
              socket.on("connect_error", (err) => {
                socket.close();
                resolve({ result: "refused", detail: String(err && err.message) });
              });
            }),
          [server, transport]
        );
        out({ origin, transport, ...result, logs });
        await page.close();
      }
    }
  } catch (err) {
    out({ error: String(err) });
  } finally {
    await browser.close();
    for (const server of pages) server.close();
  }
})();
