// Talk permessage-deflate to an Engine.IO WebSocket endpoint with the npm `ws` client.
//
//   node ws_client_deflate.js --url ws://127.0.0.1:N/engine.io/?EIO=4&transport=websocket
//
// Prints {"extensions": "..."} after the handshake, {"echo": i, "ok": bool} for every
// message sent (large text and binary, which are compressed, and a small one that is
// not), then {"done": true}.
"use strict";

const WebSocket = require("ws");

function argValue(name, fallback) {
  const index = process.argv.indexOf(name);
  return index >= 0 && index + 1 < process.argv.length ? process.argv[index + 1] : fallback;
}

const out = (obj) => console.log(JSON.stringify(obj));
const url = argValue("--url", "ws://127.0.0.1:3000/engine.io/?EIO=4&transport=websocket");
const noContext = argValue("--no-context", "0") === "1";

const big = "4" + "deflate me ".repeat(20000);
const bin = Buffer.alloc(100000, 7);
const sent = [big, "4small", bin, big + "again"];
let index = 0;
let opened = false;

const ws = new WebSocket(url, {
  perMessageDeflate: noContext
    ? { threshold: 0, clientNoContextTakeover: true, serverNoContextTakeover: true }
    : { threshold: 0 },
});
const timer = setTimeout(() => {
  out({ error: "timeout", index });
  process.exit(2);
}, 10000);

let negotiated = "";
ws.on("upgrade", (res) => {
  negotiated = res.headers["sec-websocket-extensions"] || "";
});
ws.on("open", () => out({ extensions: negotiated }));
ws.on("message", (data, isBinary) => {
  if (!opened) {
    opened = true;
    out({ open: String(data).slice(0, 1) });
    for (const m of sent) ws.send(m);
    return;
  }
  const text = isBinary ? null : String(data);
  if (text !== null && text.startsWith("2")) return; // heartbeat ping
  const expected = sent[index];
  const ok = typeof expected === "string" ? text === expected : isBinary && Buffer.from(data).equals(expected);
  out({ echo: index, ok });
  index += 1;
  if (index === sent.length) {
    ws.close(1000);
  }
});
ws.on("close", (code) => {
  clearTimeout(timer);
  out({ done: true, code });
  process.exit(0);
});
ws.on("error", (err) => out({ error: String(err) }));
