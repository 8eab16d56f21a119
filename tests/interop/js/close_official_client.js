// The official socket.io-client 4.8 closing right after it connects, many times: the reference
// for tests/client/test_clean_close.py (what the server records as the disconnect reason).
//
//   node close_official_client.js <url-with-namespace> <polling|websocket|upgrade> <tries>
//
// Each try opens a new connection (forceNew), emits "record" with the try's number and calls
// `socket.disconnect()` inside the "connect" listener, while the server's on-connection emits
// are still in flight; the next try starts once the Engine.IO connection is closed.
// Prints {"id": ..., "try": n} per try, then {"done": tries}, or {"error": message}.
"use strict";
const { io } = require("socket.io-client");

const [url, mode, triesText] = process.argv.slice(2);
const tries = parseInt(triesText, 10);
const factor = Number(process.env.AIOSOCKETIO_TEST_TIMEOUT_FACTOR || "1");
const out = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");
const transports = mode === "polling" ? ["polling"] : mode === "websocket" ? ["websocket"] : ["polling", "websocket"];

function once(n) {
  return new Promise((resolve, reject) => {
    const socket = io(url, { transports, forceNew: true, reconnection: false });
    const timer = setTimeout(() => reject(new Error(`try ${n} timed out`)), 10000 * factor);
    socket.on("connect_error", (err) => reject(err));
    socket.on("connect", () => {
      const id = socket.id;
      const engine = socket.io.engine;
      engine.once("close", () => {
        clearTimeout(timer);
        resolve(id);
      });
      socket.emit("record", n);
      socket.disconnect();
    });
  });
}

(async () => {
  try {
    for (let n = 0; n < tries; n++) {
      out({ id: await once(n), try: n });
    }
    out({ done: tries });
    process.exit(0);
  } catch (err) {
    out({ error: String(err && err.message) });
    process.exit(1);
  }
})();
