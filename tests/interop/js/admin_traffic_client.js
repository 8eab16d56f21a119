// The official client makes traffic on a Python server instrumented by both the Admin UI
// and the Prometheus exporter, whose figures the test compares.
//
//   node admin_traffic_client.js URL
//
// Opens "ws" (WebSocket only), "poll" (polling only) and "up" (polling, then upgraded) on
// "/"; ws sends 5 "echo" events with an ack (one of them not ASCII) and 2 "blob" events
// with binary attachments, poll sends 3 "note" events (each broadcast as "news" by the
// server) and an "echo"; the "/private" middleware refuses one more client and an unknown
// namespace another. Prints {"ready": true, ...}; then, on the stdin line {"close": true},
// disconnects every client (each closes its Engine.IO connection) and prints
// {"closed": true}.
"use strict";

const { io } = require("socket.io-client");
const readline = require("readline");

const [url] = process.argv.slice(2);
const out = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");

function connect(nsp, opts) {
  return new Promise((resolve) => {
    const socket = io(url + nsp, { forceNew: true, reconnection: false, ...opts });
    const news = [];
    socket.on("news", (n) => news.push(n));
    socket.on("connect", () => resolve({ socket, news, error: null }));
    socket.on("connect_error", (err) => resolve({ socket, news, error: err.message }));
  });
}

function upgraded(socket) {
  return new Promise((resolve) => {
    const engine = socket.io.engine;
    if (engine.transport.name === "websocket") return resolve();
    engine.once("upgrade", () => resolve());
  });
}

(async () => {
  const ws = await connect("/", { transports: ["websocket"] });
  const poll = await connect("/", { transports: ["polling"], upgrade: false });
  const up = await connect("/", { transports: ["polling", "websocket"] });
  await upgraded(up.socket);
  const echoes = [];
  for (const text of ["x".repeat(10), "x".repeat(10), "héllo wörld", "y", "z".repeat(100)]) {
    echoes.push(await ws.socket.timeout(5000).emitWithAck("echo", text));
  }
  ws.socket.emit("blob", Buffer.from([1, 2, 3]), { more: Buffer.alloc(1000, 7) });
  ws.socket.emit("blob", new Uint8Array(10));
  for (let i = 0; i < 3; i++) {
    poll.socket.emit("note", i);
  }
  await poll.socket.timeout(5000).emitWithAck("echo", "sync"); // the notes arrived before
  await ws.socket.timeout(5000).emitWithAck("echo", "sync"); // the blobs too
  const refused = await connect("/private", { transports: ["websocket"] });
  refused.socket.close();
  const unknown = await connect("/nowhere", { transports: ["websocket"] });
  unknown.socket.close();
  out({
    ready: true,
    errors: [ws.error, poll.error, up.error],
    transports: [ws, poll, up].map((c) => c.socket.io.engine.transport.name),
    echoes,
    refused: refused.error,
    unknown: unknown.error,
  });
  const lines = readline.createInterface({ input: process.stdin });
  lines.on("line", (line) => {
    if (!JSON.parse(line).close) return;
    for (const client of [ws, poll, up]) client.socket.disconnect();
    out({ closed: true });
  });
  lines.on("close", () => process.exit(0));
})();
