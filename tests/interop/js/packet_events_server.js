// The reference side of the engine packet-event tests: Node's socket.io 4.8 server (on
// engine.io 6.6) recording, for every Engine.IO connection, the engine's events in order.
//
//   node packet_events_server.js        (PING_INTERVAL / PING_TIMEOUT in ms from the env)
//
// Prints {"port": N} once listening, then one line per closed connection:
//   {"conn": id, "events": ["out:message", "in:pong", "heartbeat", ...]}
// where "in:<type>" is a `packet` event, "out:<type>" a `packetCreate` event (a binary
// message is "message:bin"), followed by `heartbeat`, `message`, `upgrading`, `upgrade`,
// `close:<reason>` as they happen.
// The socket.io side answers what packet_events_client.js asks: "echo" (acked), "bin"
// (acked with a buffer), "note" (emits "note" back) and "bye" (server-side disconnect).
"use strict";
const http = require("http");
const { Server } = require("socket.io");

const pingInterval = parseInt(process.env.PING_INTERVAL || "400", 10);
const pingTimeout = parseInt(process.env.PING_TIMEOUT || "2000", 10);
const httpServer = http.createServer();
const io = new Server(httpServer, { pingInterval, pingTimeout });

function log(obj) {
  process.stdout.write(JSON.stringify(obj) + "\n");
}

function name(packet) {
  const binary = Buffer.isBuffer(packet.data) || packet.data instanceof ArrayBuffer;
  return packet.type + (binary ? ":bin" : "");
}

io.engine.on("connection", (conn) => {
  const events = [];
  conn.on("packet", (packet) => events.push("in:" + name(packet)));
  conn.on("packetCreate", (packet) => events.push("out:" + name(packet)));
  conn.on("heartbeat", () => events.push("heartbeat"));
  conn.on("message", () => events.push("message"));
  conn.on("upgrading", () => events.push("upgrading"));
  conn.on("upgrade", () => events.push("upgrade"));
  conn.on("close", (reason) => {
    events.push("close:" + reason);
    // anything that would still come after the close is recorded too
    setTimeout(() => log({ conn: conn.id, events }), 100);
  });
});

io.on("connection", (socket) => {
  socket.on("echo", (value, cb) => cb(value));
  socket.on("bin", (value, cb) => cb(Buffer.from([1, 2, 3])));
  socket.on("note", (value) => socket.emit("note", value));
  socket.on("bye", () => socket.disconnect(true));
});

httpServer.listen(0, "127.0.0.1", () => log({ port: httpServer.address().port }));
process.on("SIGTERM", () => process.exit(0));
