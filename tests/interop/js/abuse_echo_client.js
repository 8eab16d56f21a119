// The official client echoing JSON values through a server (tests/abuse/test_legal_payloads.py).
//
//   node abuse_echo_client.js --url http://127.0.0.1:N [--transport websocket|polling]
//
// Prints {"connected": true}. Then, for each stdin line {"id": n, "json": text}, it emits
// "echo" with JSON.parse(text) and an ack, and prints
//   {"id": n, "ok": JSON.stringify(echo) === JSON.stringify(value), "echo": JSON.stringify(echo)}
// or {"id": n, "error": ...} if the ack does not come within 5 s. A disconnection prints
// {"disconnected": reason}.
"use strict";

const readline = require("readline");
const { io } = require("socket.io-client");

function argValue(name, fallback) {
  const index = process.argv.indexOf(name);
  return index >= 0 && index + 1 < process.argv.length ? process.argv[index + 1] : fallback;
}

const out = (obj) => console.log(JSON.stringify(obj));
const transport = argValue("--transport", "websocket");
const socket = io(argValue("--url", "http://127.0.0.1:3000"), {
  transports: [transport],
  reconnection: false,
});
socket.on("connect", () => out({ connected: true }));
socket.on("disconnect", (reason) => out({ disconnected: reason }));
socket.on("connect_error", (err) => out({ connect_error: String(err && err.message) }));

readline.createInterface({ input: process.stdin }).on("line", (line) => {
  const { id, json } = JSON.parse(line);
  const value = JSON.parse(json);
  socket.timeout(5000).emit("echo", value, (err, echo) => {
    if (err) {
      out({ id, error: String(err.message || err), connected: socket.connected });
      return;
    }
    const text = JSON.stringify(echo);
    out({ id, ok: text === JSON.stringify(value), echo: text });
  });
});
