// The official socket.io-client 4.8 (on engine.io-client 6.6) through one session whose
// Engine.IO packets the server counts (tests/engine/test_packet_events.py).
//
//   node packet_events_client.js <url> <polling|websocket|upgrade> <client|server>
//
// The session: connect (and, in "upgrade" mode, upgrade polling→WebSocket), wait for two
// server pings (answered with pongs), an acked text event, an acked binary event, an event
// the server emits back, then a close by the client (`socket.disconnect()`) or by the
// server (it disconnects the socket when asked "bye"). Prints {"done": {...}} or
// {"error": message}.
"use strict";
const { io } = require("socket.io-client");

const [url, mode, closer] = process.argv.slice(2);
const factor = Number(process.env.AIOSOCKETIO_TEST_TIMEOUT_FACTOR || "1");
const out = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");

const transports = mode === "polling" ? ["polling"] : mode === "websocket" ? ["websocket"] : ["polling", "websocket"];
const socket = io(url, { transports, forceNew: true, reconnection: false });
const engine = socket.io.engine;
let pings = 0;
const pingWaiters = [];
engine.on("ping", () => {
  pings += 1;
  while (pingWaiters.length && pingWaiters[0].n <= pings) pingWaiters.shift().resolve();
});
const untilPings = (n) => new Promise((resolve) => (pings >= n ? resolve() : pingWaiters.push({ n, resolve })));
const once = (emitter, event) => new Promise((resolve) => emitter.once(event, resolve));

const timer = setTimeout(() => {
  out({ error: "timeout", pings, transport: engine.transport && engine.transport.name });
  process.exit(2);
}, 20000 * factor);

async function main() {
  const upgraded = mode === "upgrade" ? once(engine, "upgrade") : null;
  await once(socket, "connect");
  if (upgraded) await upgraded;
  await untilPings(2);
  const echoed = await socket.emitWithAck("echo", "hello");
  const bin = await socket.emitWithAck("bin", Buffer.from([9, 8, 7]));
  socket.emit("note", "n");
  await once(socket, "note");
  const transport = engine.transport.name;
  let reason;
  if (closer === "server") {
    const gone = once(socket, "disconnect");
    socket.emit("bye");
    reason = await gone;
  } else {
    socket.disconnect();
    reason = "io client disconnect";
  }
  // let the close reach the server before exiting
  await new Promise((resolve) => setTimeout(resolve, 200));
  clearTimeout(timer);
  out({ done: { pings, transport, echoed, bin: [...Buffer.from(bin)], reason } });
  process.exit(0);
}

main().catch((err) => {
  out({ error: String(err && err.stack ? err.stack : err) });
  process.exit(1);
});
