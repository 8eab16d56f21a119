// Official socket.io 4.8 server for the aiosocketio client's interop tests.
// Usage: node client_node_server.js [port]   (port 0 = ephemeral)
// Prints {"port":N} once listening, then one JSON line per observed event.
"use strict";
const fs = require("fs");
const http = require("http");
const https = require("https");
const { Server } = require("socket.io");

const port = parseInt(process.argv[2] || "0", 10);
const pingInterval = parseInt(process.env.PING_INTERVAL || "25000", 10);
const pingTimeout = parseInt(process.env.PING_TIMEOUT || "20000", 10);

// TLS_KEY / TLS_CERT (file paths) switch the server to https.
const httpServer = process.env.TLS_KEY
  ? https.createServer({ key: fs.readFileSync(process.env.TLS_KEY), cert: fs.readFileSync(process.env.TLS_CERT) })
  : http.createServer();
const options = { pingInterval, pingTimeout, maxHttpBufferSize: parseInt(process.env.MAX_HTTP_BUFFER || "10000000", 10) };
if (process.env.RECOVERY) {
  options.connectionStateRecovery = { maxDisconnectionDuration: 60000, skipMiddlewares: true };
}
if (process.env.ALLOW_EIO3) {
  options.allowEIO3 = true;
}
if (process.env.MSGPACK) {
  options.parser = require("socket.io-msgpack-parser");
}
const io = new Server(httpServer, options);

function log(obj) {
  process.stdout.write(JSON.stringify(obj) + "\n");
}

const seen = new Map(); // value -> how many times "flaky" was received

function setup(socket) {
  socket.on("join", (room, cb) => {
    socket.join(room);
    cb(true);
  });
  socket.on("to_room", (room) => socket.nsp.to(room).emit("room_news", room));
  socket.on("echo", (...args) => {
    const cb = typeof args[args.length - 1] === "function" ? args.pop() : null;
    if (cb) cb(...args);
    else socket.emit("echo", ...args);
  });
  socket.on("record", (value) => log({ record: value, id: socket.id, nsp: socket.nsp.name }));
  socket.on("no_ack", () => {});
  socket.on("flaky", (value, cb) => {
    const n = (seen.get(value) || 0) + 1;
    seen.set(value, n);
    log({ flaky: value, n });
    if (n >= 2) cb({ value, n });
  });
  socket.on("binary", (cb) => cb({ buf: Buffer.from([1, 2, 3]), list: [Buffer.from("x"), 4] }));
  socket.on("describe", (...args) => {
    const cb = args.pop();
    cb(args.map((a) => (Buffer.isBuffer(a) ? { bin: [...a] } : a)));
  });
  socket.on("whoami", (cb) =>
    cb({
      id: socket.id,
      auth: socket.handshake.auth,
      query: socket.handshake.query,
      header: socket.handshake.headers["x-custom"] || null,
      transport: socket.conn.transport.name,
    })
  );
  socket.on("ask", async (question) => {
    try {
      const answer = await socket.timeout(2000).emitWithAck("question", question);
      socket.emit("answer", answer);
    } catch (e) {
      socket.emit("answer", { error: e.message });
    }
  });
  socket.on("ask_binary", async () => {
    const answer = await socket.timeout(2000).emitWithAck("question", Buffer.from([9, 8]));
    socket.emit("answer", Buffer.isBuffer(answer) ? { bin: [...answer] } : answer);
  });
  socket.on("push", (event, ...args) => socket.emit(event, ...args));
  socket.on("push_later", (delay, event, ...args) => setTimeout(() => socket.emit(event, ...args), delay));
  socket.on("push_binary", (event) => socket.emit(event, Buffer.from([0, 255]), { nested: [Buffer.from([7])] }));
  socket.on("burst", (n) => {
    for (let i = 0; i < n; i++) socket.emit("burst", i);
  });
  socket.on("server_disconnect", () => socket.disconnect());
  socket.on("close_engine", () => socket.conn.close());
  socket.on("transport", (cb) => cb(socket.conn.transport.name));
  socket.on("disconnect", (reason) => log({ disconnect: reason, id: socket.id, nsp: socket.nsp.name }));
  socket.onAny((event) => {
    if (event === "any") log({ any: true });
  });
}

io.on("connection", (socket) => {
  log({ connection: socket.id, nsp: "/" });
  setup(socket);
});

const admin = io.of("/admin");
admin.use((socket, next) => {
  const auth = socket.handshake.auth || {};
  if (auth.token === "secret") return next();
  const err = new Error("not authorized");
  err.data = { content: "Please retry later", token: auth.token === undefined ? null : auth.token };
  next(err);
});
admin.on("connection", (socket) => {
  log({ connection: socket.id, nsp: "/admin" });
  socket.emit("welcome", socket.handshake.auth);
  setup(socket);
});

// on connection, emits still in flight when a client disconnects at once (the clean close tests)
const blob = "x".repeat(65536);
const greet = io.of("/greet");
greet.on("connection", (socket) => {
  log({ connection: socket.id, nsp: "/greet" });
  setup(socket);
  // what reached the server, even when its handler is skipped (an event that arrives just
  // before the DISCONNECT is dropped by socket.io once the socket is disconnected)
  socket.conn.on("packet", (packet) => {
    const prefix = '2/greet,["record",';
    if (packet.type === "message" && typeof packet.data === "string" && packet.data.startsWith(prefix)) {
      log({ received: JSON.parse(packet.data.slice(8))[1], id: socket.id });
    }
  });
  socket.emit("welcome", { id: socket.id });
  socket.emit("blob", blob);
});

const chat = io.of("/chat");
chat.on("connection", (socket) => {
  setup(socket);
});

httpServer.listen(port, "127.0.0.1", () => {
  log({ port: httpServer.address().port });
});

process.on("SIGTERM", () => process.exit(0));
