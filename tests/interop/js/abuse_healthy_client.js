// A healthy Socket.IO client that runs beside an attack (tests/abuse).
//
//   node abuse_healthy_client.js --url http://127.0.0.1:N [--interval 20]
//
// Emits "echo" with an ack every --interval ms over WebSocket and measures, per window, the
// longest gap between two acknowledgements and the round-trip times. Commands on stdin,
// one per line (a bare word or a JSON string): "reset" starts a new window; "report" prints
//   {"report": true, "acks": n, "maxGap": ms, "p99": ms, "maxRtt": ms, "connected": bool,
//    "disconnects": n}
// It prints {"connected": true} once connected.
"use strict";

const readline = require("readline");
const { io } = require("socket.io-client");

function argValue(name, fallback) {
  const index = process.argv.indexOf(name);
  return index >= 0 && index + 1 < process.argv.length ? process.argv[index + 1] : fallback;
}

const url = argValue("--url", "http://127.0.0.1:3000");
const interval = Number(argValue("--interval", "20"));
const out = (obj) => console.log(JSON.stringify(obj));

const socket = io(url, { transports: ["websocket"], reconnection: false });
let rtts = [];
let lastAck = null;
let maxGap = 0;
let disconnects = 0;
let seq = 0;

function reset() {
  rtts = [];
  lastAck = null;
  maxGap = 0;
}

function tick() {
  if (!socket.connected) return;
  const sent = performance.now();
  const n = ++seq;
  socket.emit("echo", n, (value) => {
    const now = performance.now();
    if (value !== n) out({ error: "bad echo", value, n });
    rtts.push(now - sent);
    if (lastAck !== null) maxGap = Math.max(maxGap, now - lastAck);
    lastAck = now;
  });
}

socket.on("connect", () => {
  out({ connected: true });
  setInterval(tick, interval);
});
socket.on("disconnect", (reason) => {
  disconnects += 1;
  out({ disconnected: reason });
});
socket.on("connect_error", (err) => out({ connect_error: String(err && err.message) }));

readline.createInterface({ input: process.stdin }).on("line", (line) => {
  let command = line.trim();
  try {
    const parsed = JSON.parse(command); // NodeProcess.send() writes JSON lines
    if (typeof parsed === "string") command = parsed;
  } catch (_) {
    // a bare word
  }
  if (command === "reset") {
    reset();
    out({ reset: true });
  } else if (command === "report") {
    // a window that ends while an ack is overdue counts the time since the last one
    const now = performance.now();
    const gap = lastAck === null ? 0 : Math.max(maxGap, now - lastAck);
    const sorted = rtts.slice().sort((a, b) => a - b);
    const p99 = sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))] : null;
    out({
      report: true,
      acks: rtts.length,
      maxGap: gap,
      p99,
      maxRtt: sorted.length ? sorted[sorted.length - 1] : null,
      connected: socket.connected,
      disconnects,
    });
  } else if (command === "exit") {
    socket.close();
    process.exit(0);
  }
});
