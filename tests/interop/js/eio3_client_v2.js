// socket.io-client 2.5.0 (Engine.IO v3, Socket.IO v2 protocol) against a server with allowEIO3.
// Usage: node eio3_client_v2.js <url> <polling|websocket|upgrade> [restart]
// With "restart": connect, then wait for the server to go away and come back (the test
// restarts it on the same port), reconnect by itself and emit again.
// Prints one JSON line {step: value} per step; exits 1 (with {error}) if a step fails.
"use strict";
const io = require("socket.io-client-v2");

const [url, mode] = process.argv.slice(2);
const transports = { polling: ["polling"], websocket: ["websocket"], upgrade: ["polling", "websocket"] }[mode];
const opts = { transports, forceNew: true, reconnectionDelay: 100, reconnectionDelayMax: 200, timeout: 10000 };

const out = (step, value) => process.stdout.write(JSON.stringify({ step, value }) + "\n");
const once = (emitter, event) => new Promise((resolve) => emitter.once(event, (...args) => resolve(args)));
const withAck = (socket, ...args) => new Promise((resolve) => socket.emit(...args, (...answer) => resolve(answer)));
const bin = (value) => {
  if (Buffer.isBuffer(value)) return { bin: [...value] };
  if (Array.isArray(value)) return value.map(bin);
  if (value && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, bin(v)]));
  return value;
};
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function restart() {
  const socket = io(url, opts);
  await once(socket, "connect");
  out("connected", true);
  out("disconnect_reason", (await once(socket, "disconnect"))[0]);
  await once(socket, "connect");
  out("reconnected", true);
  out("echo_after_restart", await withAck(socket, "echo", "back"));
  socket.close();
}

async function main() {
  if (process.argv[4] === "restart") return restart();
  const socket = io(url, opts);
  await once(socket, "connect");
  out("connected", { id: typeof socket.id, transport: socket.io.engine.transport.name });
  out("echo_ack", await withAck(socket, "echo", "a", 1, { x: [1, null] }, "é😀"));
  socket.on("question", (q, cb) => cb(Buffer.isBuffer(q) ? Buffer.from([...q].reverse()) : { echo: q }));
  socket.emit("ask", "q?");
  out("server_ack", (await once(socket, "answer"))[0]);
  socket.emit("ask_binary");
  out("server_ack_binary", (await once(socket, "answer"))[0]);
  out("binary_echo", bin(await withAck(socket, "echo", Buffer.from([1, 2, 3]), { nested: [Buffer.from([4])] })));
  out("binary_from_server", bin(await withAck(socket, "binary")));
  socket.emit("push_binary", "bin_event");
  out("binary_event", bin(await once(socket, "bin_event")));
  out("join", await withAck(socket, "join", "room-1"));
  socket.emit("to_room", "room-1");
  out("room_news", await once(socket, "room_news"));

  const admin = io(url + "/admin", { ...opts, forceNew: false, query: { token: "secret" } });
  const [welcome] = await once(admin, "welcome");
  out("admin_welcome", welcome);
  out("admin_whoami", (await withAck(admin, "whoami"))[0].auth);
  admin.close();
  const refused = io(url + "/admin", { ...opts, query: { token: "nope" } });
  out("admin_refused", (await once(refused, "error"))[0]);
  refused.close();
  const nowhere = io(url + "/nowhere", opts);
  out("invalid_namespace", (await once(nowhere, "error"))[0]);
  nowhere.close();

  if (mode === "upgrade") {
    for (let i = 0; i < 100 && socket.io.engine.transport.name !== "websocket"; i++) await sleep(50);
  }
  out("server_transport", (await withAck(socket, "transport"))[0]);

  // a forced disconnect of the Engine.IO connection: the 2.x client reconnects by itself
  const firstId = socket.id;
  const reason = once(socket, "disconnect");
  socket.emit("close_engine");
  out("disconnect_reason", (await reason)[0]);
  await once(socket, "connect");
  out("reconnected", socket.id !== firstId);
  out("echo_after_reconnect", await withAck(socket, "echo", "again"));

  // heartbeat: the 2.x client pings (pingInterval from the handshake), the server answers
  const pong = await once(socket, "pong");
  out("pong_latency", typeof pong[0]);

  const serverSide = once(socket, "disconnect");
  socket.emit("server_disconnect");
  out("server_disconnect", (await serverSide)[0]);
  socket.close();
}

main().then(
  () => process.exit(0),
  (err) => {
    out("error", String(err && err.stack));
    process.exit(1);
  }
);
setTimeout(() => {
  out("error", "timeout");
  process.exit(1);
}, 30000);
