// A raw WebSocket client (the `ws` package) speaking Engine.IO/Socket.IO by hand, to look
// at individual frames and at misbehaving peers.
//
//   node server_raw_ws.js <port> <frames|pingtimeout|parse>
//
// Prints one JSON line with its observations.
"use strict";

const WebSocket = require("ws");

const [port, scenario] = process.argv.slice(2);
const ws = new WebSocket(`ws://127.0.0.1:${port}/socket.io/?EIO=4&transport=websocket`);
const frames = [];
let connectedAt = 0;
let sentBadAt = 0;
let pings = 0;

function finish(extra) {
  process.stdout.write(JSON.stringify({ scenario, frames, pings, ...extra }) + "\n");
  process.exit(0);
}

ws.on("message", (data, isBinary) => {
  const text = isBinary ? null : data.toString();
  frames.push(isBinary ? { binary: Buffer.from(data).toString("hex") } : { text });
  if (text === null) return;
  if (text.startsWith("0{")) {
    ws.send("40");
  } else if (text.startsWith("40{")) {
    connectedAt = Date.now();
    if (scenario === "frames") ws.send('42["hello-raw"]');
    if (scenario === "parse") {
      sentBadAt = Date.now();
      ws.send('42["unterminated');
    }
  } else if (text === "2") {
    pings += 1;
    if (scenario !== "pingtimeout") ws.send("3");
  } else if (text.startsWith("42") && scenario === "frames") {
    ws.close();
  }
});

ws.on("close", (code) => {
  const now = Date.now();
  finish({
    closeCode: code,
    sinceConnectMs: connectedAt ? now - connectedAt : null,
    sinceBadMs: sentBadAt ? now - sentBadAt : null,
  });
});

ws.on("error", (err) => finish({ error: String(err) }));
setTimeout(() => finish({ error: "timed out" }), 5000);
