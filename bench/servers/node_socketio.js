// Node socket.io 4.8 server for the benchmark: the same tiny app as every other server.
// usage: node node_socketio.js PORT [--redis URL]   (prints {"ready":true,"port":N} when listening)
"use strict";
const http = require("http");
const { Server } = require("socket.io");

const port = parseInt(process.argv[2] || "0", 10);
const httpServer = http.createServer();
const io = new Server(httpServer, { serveClient: false, maxHttpBufferSize: 1e7 });

io.on("connection", (socket) => {
  socket.on("echo", (data, ack) => {
    if (typeof ack === "function") ack(data);
  });
  socket.on("join", (room, ack) => {
    socket.join(room);
    if (typeof ack === "function") ack(true);
  });
  socket.on("bcast", (room, data) => {
    io.to(room).emit("m", data);
  });
  socket.on("all", (data) => {
    io.emit("m", data);
  });
  socket.on("bin", (data, ack) => {
    if (typeof ack === "function") ack(data);
  });
});

async function main() {
  // cluster scenario: `--redis URL` puts the server on @socket.io/redis-adapter
  const i = process.argv.indexOf("--redis");
  if (i > 0) {
    const { createAdapter } = require("@socket.io/redis-adapter");
    const { createClient } = require("redis");
    const pub = createClient({ url: process.argv[i + 1] });
    const sub = pub.duplicate();
    await Promise.all([pub.connect(), sub.connect()]);
    io.adapter(createAdapter(pub, sub, { key: process.env.BENCH_REDIS_KEY || "bench-socket.io" }));
  }
  httpServer.listen(port, "127.0.0.1", 2048, () => {
    process.stdout.write(JSON.stringify({ ready: true, port: httpServer.address().port }) + "\n");
  });
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
process.on("SIGTERM", () => process.exit(0));
