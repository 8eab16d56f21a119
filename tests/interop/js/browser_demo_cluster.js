// Two chat users on two different demo processes that share one Redis.
// usage: node browser_demo_cluster.js <url-of-process-1> <url-of-process-2>
// Prints {"ack":...}, then {"received":..., "rooms":...} and exits 0; {"error":...} and 1 otherwise.
"use strict";

const { io } = require("socket.io-client");

const [url1, url2] = process.argv.slice(2);
const TIMEOUT = 10000 * Number(process.env.AIOSOCKETIO_TEST_TIMEOUT_FACTOR || "1");
const out = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");

const alice = io(url1, { auth: { nickname: "alice" }, transports: ["websocket"] });
const bob = io(url2, { auth: { nickname: "bob" }, transports: ["polling"] });
let rooms = null;

function finish(code) {
  alice.close();
  bob.close();
  process.exit(code);
}

bob.on("rooms", (list) => {
  rooms = list;
});

bob.on("message", (message) => {
  out({ received: message, rooms });
  finish(0);
});

let joined = 0;
function onJoined(reply) {
  out({ joined: reply.room });
  joined += 1;
  if (joined === 2) {
    // Both are in #general, on different processes: wait until the counts show it.
    const poll = setInterval(() => {
      const general = rooms && rooms.find((r) => r.name === "general");
      if (general && general.members === 2) {
        clearInterval(poll);
        alice.timeout(TIMEOUT).emit("message", { text: "across processes" }, (err, ack) => {
          if (err) {
            out({ error: `no ack: ${err.message}` });
            finish(1);
          }
          out({ ack });
        });
      }
    }, 50);
  }
}

alice.on("connect", () => alice.emit("join", "general", onJoined));
bob.on("connect", () => bob.emit("join", "general", onJoined));
for (const [name, socket] of [["alice", alice], ["bob", bob]]) {
  socket.on("connect_error", (err) => {
    out({ error: `${name}: ${err.message}` });
    finish(1);
  });
}

setTimeout(() => {
  out({ error: "timed out", rooms });
  finish(1);
}, TIMEOUT);
