// A Node socket.io 4.8 server on @socket.io/redis-adapter, instrumented by
// @socket.io/admin-ui's own instrument(): the Node member of the mixed admin cluster test.
//   node admin_node_server.js '{"key": "...", "serverId": "node-1", "passwordHash": "$2b$..."}'
// Clients of "/" join the room named in their auth ({room}); prints {"port": N}, then
// {"joined": room, "sid": id} and {"disconnected": id, "reason": reason} (as admin_server.py).
"use strict";
const http = require("http");
const { Server } = require("socket.io");
const { createClient } = require("redis");
const { createAdapter } = require("@socket.io/redis-adapter");
const { instrument } = require("@socket.io/admin-ui");

const cfg = JSON.parse(process.argv[2] || "{}");
const print = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");

async function main() {
  const pub = createClient({ url: cfg.redis || "redis://127.0.0.1:6379" });
  const sub = pub.duplicate();
  await Promise.all([pub.connect(), sub.connect()]);
  const httpServer = http.createServer();
  const io = new Server(httpServer, {
    cors: { origin: true, credentials: true },
    adapter: createAdapter(pub, sub, { key: cfg.key, requestsTimeout: 3000 }),
  });
  io.of("/chat");
  instrument(io, {
    auth: { type: "basic", username: "admin", password: cfg.passwordHash },
    serverId: cfg.serverId,
    mode: "development",
  });
  io.on("connection", (socket) => {
    const room = socket.handshake.auth.room;
    if (typeof room === "string") socket.join(room);
    socket.data.name = socket.handshake.auth.name;
    socket.on("disconnect", (reason) => print({ disconnected: socket.id, reason }));
  });
  io.of("/").adapter.on("join-room", (room, id) => {
    if (room !== id) print({ joined: room, sid: id });
  });
  httpServer.listen(0, "127.0.0.1", () => print({ port: httpServer.address().port }));
  process.on("SIGTERM", () => {
    io.close();
    pub.quit();
    sub.quit();
    process.exit(0);
  });
}

main().catch((err) => {
  print({ error: String(err) });
  process.exit(1);
});
