// Drive an Engine.IO echo server with the official engine.io-client (npm).
//
//   node eio_client_echo.js --url http://127.0.0.1:N --mode polling|websocket|upgrade
//
// Sends text and binary messages (small and large), checks every echo, stays connected
// through a few server heartbeats, then closes. Prints JSON lines:
//   {"open": transport}, {"upgrade": transport}, {"echo": i, "ok": bool, "kind": ...},
//   {"done": true, "transport": ..., "pings": n, "closeReason": ...}
"use strict";

const { Socket } = require("engine.io-client");

function argValue(name, fallback) {
  const index = process.argv.indexOf(name);
  return index >= 0 && index + 1 < process.argv.length ? process.argv[index + 1] : fallback;
}

const url = argValue("--url", "http://127.0.0.1:3000");
const mode = argValue("--mode", "polling");
const out = (obj) => console.log(JSON.stringify(obj));

const options = { path: "/engine.io/" };
if (mode === "polling") {
  options.transports = ["polling"];
} else if (mode === "websocket") {
  options.transports = ["websocket"];
} else {
  options.transports = ["polling", "websocket"];
  options.upgrade = true;
}

const bigText = "é✓ ".repeat(30000);
const bigBinary = Buffer.alloc(200000);
for (let i = 0; i < bigBinary.length; i++) bigBinary[i] = i % 251;
const messages = [
  "hello",
  "unicode é ✓ 🚀",
  Buffer.from([0, 1, 2, 255]),
  bigText,
  bigBinary,
  "4",
];

const socket = new Socket(url, options);
let pings = 0;
let received = 0;
let sent = false;
let closeReason = null;
const factor = Number(process.env.AIOSOCKETIO_TEST_TIMEOUT_FACTOR || "1");
const timer = setTimeout(() => {
  out({ error: "timeout", received, closeReason });
  process.exit(2);
}, 20000 * factor);

function same(expected, actual) {
  if (typeof expected === "string") return typeof actual === "string" && actual === expected;
  const buf = Buffer.isBuffer(actual) ? actual : actual instanceof ArrayBuffer ? Buffer.from(actual) : null;
  return buf !== null && buf.equals(expected);
}

function sendAll() {
  if (sent) return;
  sent = true;
  for (const m of messages) socket.send(m);
}

socket.on("open", () => {
  out({ open: socket.transport.name });
  if (mode !== "upgrade") sendAll();
});
socket.on("upgrade", (transport) => {
  out({ upgrade: transport.name });
  sendAll();
});
socket.on("ping", () => {
  pings += 1;
});
socket.on("message", (data) => {
  const i = received;
  received += 1;
  out({
    echo: i,
    ok: same(messages[i], data),
    kind: typeof data === "string" ? "text" : "binary",
    transport: socket.transport.name,
  });
  if (received === messages.length) {
    // stay through a couple of heartbeats (pingInterval 300 ms) before closing
    setTimeout(() => {
      const transport = socket.transport.name;
      const finish = (reason) => {
        clearTimeout(timer);
        out({ done: true, transport, pings, closeReason: reason });
        process.exit(0);
      };
      if (closeReason !== null) finish(closeReason); // closed meanwhile (e.g. ping timeout)
      socket.on("close", finish);
      socket.close();
    }, 700);
  }
});
socket.on("close", (reason, description) => {
  closeReason = reason;
  if (received < messages.length) {
    out({ error: "closed early", reason, description: String(description) });
    process.exit(3);
  }
});
socket.on("error", (err) => {
  out({ error: String(err) });
});
