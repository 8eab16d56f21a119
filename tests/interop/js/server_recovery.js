// Connection state recovery with the official socket.io-client 4.8.
//
//   node server_recovery.js <url> <websocket|polling|upgrade>
//
// Connects, joins the "news" room, gets the connection dropped by the server, reconnects,
// and prints what it saw as one JSON line.
"use strict";

const { io } = require("socket.io-client");

const [url, mode] = process.argv.slice(2);
const transports =
  mode === "websocket" ? ["websocket"] : mode === "polling" ? ["polling"] : ["polling", "websocket"];

function once(sock, ev) {
  return new Promise((resolve) => sock.once(ev, (...args) => resolve(args)));
}

(async () => {
  const s = io(url, { transports, reconnectionDelay: 50, reconnectionDelayMax: 100 });
  const news = [];
  s.on("news", (n) => news.push(n));
  await once(s, "connect");
  const firstId = s.id;
  const firstRecovered = s.recovered;
  const first = once(s, "news");
  await s.emitWithAck("join-news");
  await first;
  const dropped = once(s, "disconnect");
  s.emit("drop-me");
  const [reason] = await dropped;
  await once(s, "connect");
  const rooms = await s.emitWithAck("my-rooms");
  const result = {
    firstRecovered,
    reason,
    recovered: s.recovered,
    sameId: s.id === firstId,
    news,
    rooms,
  };
  s.disconnect();
  process.stdout.write(JSON.stringify(result) + "\n");
  process.exit(0);
})();
setTimeout(() => {
  process.stdout.write(JSON.stringify({ error: "timed out" }) + "\n");
  process.exit(1);
}, 10000);
