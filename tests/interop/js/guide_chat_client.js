// The official client drives the chat of docs/guides/migrating-from-python-socketio.md:
// the same steps as the guide's chat_client.py, so that the python-socketio server and
// its aiosocketio port can be compared through socket.io-client.
//
//   node guide_chat_client.js URL
//
// Prints one line: {"seen": {"ada": [...], "bob": [...]}, "acks": [...], "refusal": [message, data]}
"use strict";

const { io } = require("socket.io-client");

const url = process.argv[2];
const out = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");

async function until(condition, ms = 5000) {
  const end = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > end) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 10));
  }
}

function connected(socket) {
  return new Promise((resolve, reject) => {
    socket.once("connect", () => resolve(socket));
    socket.once("connect_error", (err) => {
      socket.close();
      reject(err);
    });
  });
}

(async () => {
  const seen = { ada: [], bob: [] };
  const sockets = {};
  for (const name of ["ada", "bob"]) {
    const socket = io(url, { auth: { name }, forceNew: true, reconnection: false });
    socket.on("joined", (data) => seen[name].push(["joined", data.name]));
    socket.on("said", (data) => seen[name].push(["said", data.text]));
    socket.on("left", (data) => seen[name].push(["left", data.name]));
    socket.on("quiz", (question, callback) => callback(question === "2 + 2 ?" ? "4" : "no idea"));
    sockets[name] = await connected(socket);
  }
  const { ada, bob } = sockets;

  const acks = [await ada.timeout(5000).emitWithAck("join", "lobby")];
  await until(() => seen.ada.length === 1);
  acks.push(await bob.timeout(5000).emitWithAck("join", "lobby"));
  await until(() => seen.ada.length === 2 && seen.bob.length === 1);
  acks.push(await ada.timeout(5000).emitWithAck("say", { room: "lobby", text: "hello" }));
  await until(() => seen.bob.length === 2);
  acks.push(await bob.timeout(5000).emitWithAck("quiz_me"));
  bob.disconnect();
  await until(() => seen.ada.length === 3);
  ada.disconnect();

  let refusal = null;
  try {
    const nameless = await connected(io(url, { forceNew: true, reconnection: false }));
    nameless.close();
  } catch (err) {
    refusal = [err.message, err.data === undefined ? null : err.data];
  }
  out({ seen, acks, refusal });
  process.exit(0);
})().catch((err) => {
  console.error(err);
  process.exit(1);
});
