// Node's socket.io with the protocol of tests/server/shutdown_app.py, to compare shutdowns
// (tests/server/shutdown_harness.py node).
//
//   node shutdown_node_server.js --port 0
//
// A "/control" client emits burst(n, size): the server broadcasts n events m(i, text) to
// "/", waits 500 ms, and acknowledges {queued, sockets, buffered}. On SIGTERM it calls
// io.close() (socket.io 4.8's graceful close) and lets the process end by itself; at exit
// it prints {"exit": {"reasons": {...}}}.
"use strict";

const http = require("http");
const { Server } = require("socket.io");

function argValue(name, fallback) {
  const index = process.argv.indexOf(name);
  return index >= 0 && index + 1 < process.argv.length ? process.argv[index + 1] : fallback;
}

const httpServer = http.createServer();
const io = new Server(httpServer);
const reasons = {};

function buffered() {
  let total = 0;
  for (const socket of io.of("/").sockets.values()) {
    const ws = socket.conn.transport && socket.conn.transport.socket;
    if (ws && typeof ws.bufferedAmount === "number") total += ws.bufferedAmount;
  }
  return total;
}

io.on("connection", (socket) => {
  socket.on("disconnect", (reason) => {
    reasons[reason] = (reasons[reason] || 0) + 1;
  });
});

io.of("/control").on("connection", (socket) => {
  socket.on("burst", (n, size, ack) => {
    const filler = "x".repeat(size);
    for (let i = 0; i < n; i++) io.emit("m", i, filler);
    setTimeout(() => {
      ack({ queued: n, sockets: io.of("/").sockets.size, buffered: buffered() });
    }, 500);
  });
});

process.on("SIGTERM", () => {
  io.close();
});
process.on("exit", () => {
  const cpu = process.cpuUsage();
  const cpuS = Math.round((cpu.user + cpu.system) / 1e4) / 100;
  console.log(JSON.stringify({ exit: { reasons, cpu_s: cpuS } }));
});

httpServer.listen(Number(argValue("--port", "0")), "127.0.0.1", () => {
  console.log(JSON.stringify({ port: httpServer.address().port, pid: process.pid }));
});
