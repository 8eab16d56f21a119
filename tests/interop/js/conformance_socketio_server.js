// Reference Socket.IO server for tests/conformance: the npm socket.io package configured
// as the protocol test suite expects (pingInterval 300 ms, pingTimeout 200 ms, maxPayload
// 1e6, connectTimeout 1000 ms, cors "*", path /socket.io/). Namespaces "/" and "/custom"
// emit "auth" with the handshake auth on connect; "/" echoes "message" as
// "message-back" and acknowledges "message-with-ack" with its arguments.
//
//   node conformance_socketio_server.js --port N     (0: any free port)
// prints {"port": N} once listening.
"use strict";

const http = require("http");
const { Server } = require("socket.io");

function argValue(name, fallback) {
  const index = process.argv.indexOf(name);
  return index >= 0 && index + 1 < process.argv.length ? process.argv[index + 1] : fallback;
}

const httpServer = http.createServer();
const io = new Server(httpServer, {
  pingInterval: 300,
  pingTimeout: 200,
  maxHttpBufferSize: 1e6,
  connectTimeout: 1000,
  cors: { origin: "*" },
});

io.of("/").on("connection", (socket) => {
  socket.emit("auth", socket.handshake.auth);
  socket.on("message", (...args) => socket.emit("message-back", ...args));
  socket.on("message-with-ack", (...args) => {
    const ack = args.pop();
    if (typeof ack === "function") ack(...args);
  });
});

io.of("/custom").on("connection", (socket) => {
  socket.emit("auth", socket.handshake.auth);
});

httpServer.listen(Number(argValue("--port", "0")), "127.0.0.1", () => {
  console.log(JSON.stringify({ port: httpServer.address().port }));
});

for (const signal of ["SIGTERM", "SIGINT"]) {
  process.on(signal, () => process.exit(0));
}
