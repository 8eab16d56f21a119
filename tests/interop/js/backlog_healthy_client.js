// A healthy official client beside an attack (tests/abuse/test_polling_backlog.py).
//
//   node backlog_healthy_client.js <url>
//
// Over WebSocket, emits "echo" with an ack every 20 ms. Prints {"connected": true}; then
// reads commands on stdin, one JSON string a line: "reset" starts a new window (answers
// {"reset": true}), "report" prints {"report": {"acks": n, "maxGap": ms, "connected": b}}
// where maxGap is the longest time between two acks in the window (up to now).
"use strict";
const readline = require("readline");
const { io } = require("socket.io-client");

const out = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");
const socket = io(process.argv[2], { transports: ["websocket"], reconnection: false });
let acks = 0;
let last = null;
let maxGap = 0;
let seq = 0;

socket.on("connect", () => {
  out({ connected: true });
  setInterval(() => {
    if (!socket.connected) return;
    const n = ++seq;
    socket.emit("echo", n, (value) => {
      if (value !== n) out({ error: "bad echo", value, n });
      const now = performance.now();
      if (last !== null) maxGap = Math.max(maxGap, now - last);
      last = now;
      acks += 1;
    });
  }, 20);
});
socket.on("disconnect", (reason) => out({ disconnected: reason }));

readline.createInterface({ input: process.stdin }).on("line", (line) => {
  const command = JSON.parse(line);
  if (command === "reset") {
    acks = 0;
    last = performance.now();
    maxGap = 0;
    out({ reset: true });
  } else if (command === "report") {
    const gap = last === null ? 0 : Math.max(maxGap, performance.now() - last);
    out({ report: { acks, maxGap: gap, connected: socket.connected } });
  } else if (command === "exit") {
    socket.close();
    process.exit(0);
  }
});
