// The Node reference beside tests/abuse/server_app.py: socket.io 4.8 with the same events.
//
//   node abuse_node_server.js --port 0
//
// Prints {"port": N, "pid": P} once listening. "echo" acknowledges its arguments; "spam"
// sends n binary messages of size bytes on the Engine.IO connection. GET /stats answers
// the disconnect reasons seen.
"use strict";

const http = require("http");
const { Server } = require("socket.io");

function argValue(name, fallback) {
  const index = process.argv.indexOf(name);
  return index >= 0 && index + 1 < process.argv.length ? process.argv[index + 1] : fallback;
}

const disconnects = {};
const httpServer = http.createServer((req, res) => {
  if (req.url === "/stats") {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ limits: {}, disconnects, clients: io.engine.clientsCount }));
  }
});
const io = new Server(httpServer, { maxHttpBufferSize: 1e6 });
io.on("connection", (socket) => {
  socket.on("echo", (...args) => {
    const ack = typeof args[args.length - 1] === "function" ? args.pop() : null;
    if (ack) ack(...args);
  });
  socket.on("spam", (n, size) => {
    const blob = Buffer.alloc(size);
    for (let i = 0; i < n && socket.conn.readyState === "open"; i++) socket.conn.send(blob);
  });
  socket.on("disconnect", (reason) => {
    disconnects[reason] = (disconnects[reason] || 0) + 1;
  });
});
httpServer.listen(Number(argValue("--port", "0")), "127.0.0.1", () => {
  console.log(JSON.stringify({ port: httpServer.address().port, pid: process.pid }));
});
