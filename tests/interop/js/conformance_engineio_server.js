// Reference Engine.IO server for tests/conformance: the npm engine.io package configured
// as the protocol test suite expects (echo; pingInterval 300 ms, pingTimeout 200 ms,
// maxPayload 1e6, cors "*", path /engine.io/).
//
//   node conformance_engineio_server.js --port N     (0: any free port)
// prints {"port": N} once listening.
"use strict";

const http = require("http");
const { Server } = require("engine.io");

function argValue(name, fallback) {
  const index = process.argv.indexOf(name);
  return index >= 0 && index + 1 < process.argv.length ? process.argv[index + 1] : fallback;
}

const httpServer = http.createServer();
const engine = new Server({
  pingInterval: 300,
  pingTimeout: 200,
  maxHttpBufferSize: 1e6,
  cors: { origin: "*" },
});
engine.attach(httpServer, { path: "/engine.io/" });

engine.on("connection", (socket) => {
  socket.on("message", (data) => socket.send(data));
});

httpServer.listen(Number(argValue("--port", "0")), "127.0.0.1", () => {
  console.log(JSON.stringify({ port: httpServer.address().port }));
});

for (const signal of ["SIGTERM", "SIGINT"]) {
  process.on(signal, () => process.exit(0));
}
