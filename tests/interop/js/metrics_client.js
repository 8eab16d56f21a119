// The official client drives a Python server whose Prometheus metrics the test scrapes.
//
//   node metrics_client.js URL
//
// Opens "ws" (WebSocket only) and "poll" (polling only, no upgrade) on "/", sends 5 "echo"
// events with an ack on ws and 3 "note" events on poll, answers 2 "question"s from the
// server, is refused once by the "/private" middleware, once by an unknown namespace and
// once by the Engine.IO handshake (EIO=3). Prints {"ready": true} with the counts it saw,
// and keeps the two connections open until its stdin closes.
"use strict";

const { io } = require("socket.io-client");

const [url] = process.argv.slice(2);
const out = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");

function connect(nsp, opts) {
  return new Promise((resolve) => {
    const socket = io(url + nsp, { forceNew: true, reconnection: false, ...opts });
    socket.on("question", (n, callback) => callback(n * 2));
    socket.on("connect", () => resolve({ socket, error: null }));
    socket.on("connect_error", (err) => resolve({ socket, error: err.message }));
  });
}

(async () => {
  const ws = await connect("/", { transports: ["websocket"] });
  const poll = await connect("/", { transports: ["polling"], upgrade: false });
  const echoes = [];
  for (let i = 0; i < 5; i++) {
    echoes.push(await ws.socket.timeout(5000).emitWithAck("echo", "x".repeat(10)));
  }
  for (let i = 0; i < 3; i++) {
    poll.socket.emit("note", i);
  }
  await poll.socket.timeout(5000).emitWithAck("echo", "sync");  // the notes arrived before
  const refused = await connect("/private", { transports: ["websocket"], auth: { token: "no" } });
  refused.socket.close();
  const unknown = await connect("/nowhere", { transports: ["websocket"] });
  unknown.socket.close();
  const eio3 = await fetch(url + "/socket.io/?EIO=3&transport=polling");
  out({
    ready: true,
    errors: [ws.error, poll.error],
    echoes,
    refused: refused.error,
    unknown: unknown.error,
    eio3: eio3.status,
  });
  process.stdin.on("end", () => process.exit(0));
  process.stdin.resume();
})();
