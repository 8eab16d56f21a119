// A real browser's WebSocket (headless Chromium via playwright-core) against an Engine.IO
// echo endpoint, so our RFC 6455 framing and permessage-deflate meet Chromium's.
//
//   node browser_ws_deflate.js ws://127.0.0.1:N/engine.io/?EIO=4&transport=websocket
//
// Prints {"extensions": ..., "echoes": [bool...], "closeCode": n} or {"error": ...}.
"use strict";

const { launchChromium } = require("./chromium");

const url = process.argv[2];
const out = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");

(async () => {
  const browser = await launchChromium();
  try {
    const page = await browser.newPage();
    const result = await page.evaluate(
      (target) =>
        new Promise((resolve) => {
          const ws = new WebSocket(target);
          ws.binaryType = "arraybuffer";
          const big = "4" + "chromium deflate ".repeat(5000);
          const bin = new Uint8Array(50000).map((_, i) => i % 7);
          const sent = [big, "4tiny", bin, big + "!"];
          const echoes = [];
          let opened = false;
          const same = (a, b) => {
            if (typeof a === "string") return a === b;
            if (!(b instanceof ArrayBuffer)) return false;
            const view = new Uint8Array(b);
            return view.length === a.length && view.every((v, i) => v === a[i]);
          };
          ws.onmessage = (event) => {
            if (!opened) {
              opened = true;
              for (const m of sent) ws.send(m);
              return;
            }
            if (event.data === "2") return; // heartbeat
            echoes.push(same(sent[echoes.length], event.data));
            if (echoes.length === sent.length) ws.close(1000);
          };
          ws.onclose = (event) =>
            resolve({ extensions: ws.extensions, echoes, closeCode: event.code });
          setTimeout(() => resolve({ error: "timeout", echoes }), 10000);
        }),
      url
    );
    out(result);
  } catch (err) {
    out({ error: String(err) });
  } finally {
    await browser.close();
  }
})();
