// The official socket.io-client against examples/typed/app.py: good payloads reach the
// handlers, bad ones are rejected with the documented shapes.
//
//   node client.js <url>
//
// Exits non-zero on the first failed assertion; prints one JSON line per check.
"use strict";

const assert = require("node:assert/strict");
const { io } = require("socket.io-client");

const url = process.argv[2];

function out(obj) {
  process.stdout.write(JSON.stringify(obj) + "\n");
}

function nextEvent(sock, event, ms = 5000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${event} event`)), ms);
    sock.once(event, (...args) => {
      clearTimeout(timer);
      resolve(args);
    });
  });
}

async function main() {
  const sock = io(url, { forceNew: true, reconnection: false, transports: ["websocket"] });
  await nextEvent(sock, "connect");
  const ack = (...args) => sock.timeout(5000).emitWithAck(...args);

  // good payloads: the handlers run and answer
  assert.equal(await ack("message", { room: "r", text: "hi" }), "ok");
  assert.equal(await ack("move", { x: 2, y: 3 }), 5);
  assert.equal(await ack("move", { x: "2", y: 3 }), 5); // pydantic's lax rules: "2" is 2
  assert.deepEqual(await ack("order", { item: "tea", quantity: 2 }), { item: "tea", total: 6 });
  assert.equal(await ack("profile", { name: "ada", age: 36 }), "hello ada, 36");
  out({ check: "good payloads", ok: true });

  // bad payloads with an ack: the ack's argument is the rejection
  const bad = [
    ["message", { room: "r", text: 5 }, "$.text"],
    ["message", "hello", "$"],
    ["move", { x: 1 }, "$.y"],
    ["move", { x: "one", y: 2 }, "$.x"],
    ["move", [1, 2], "$"],
    ["order", { item: "tea", quantity: 1, size: "XL" }, "$.size"],
    ["profile", { name: "", age: -1 }, "$.name"],
  ];
  for (const [event, payload, path] of bad) {
    const answer = await ack(event, payload);
    assert.equal(answer.error, "validation", JSON.stringify(answer));
    assert.equal(answer.event, event);
    assert.ok(Array.isArray(answer.detail) && answer.detail.length >= 1);
    const first = answer.detail[0];
    assert.equal(first.arg, 0);
    assert.equal(typeof first.param, "string");
    assert.equal(first.path, path, JSON.stringify(answer));
    assert.equal(typeof first.message, "string");
    out({ check: "rejected with ack", event, answer });
  }

  // a bad payload without an ack: the socket gets an "error" event
  const error = nextEvent(sock, "error");
  sock.emit("move", { x: "far", y: 0 });
  const [payload] = await error;
  assert.deepEqual(payload.error, "validation");
  assert.equal(payload.event, "move");
  assert.equal(payload.detail[0].path, "$.x");
  out({ check: "rejected without ack", payload });

  // the typed emit: a good move reaches the others as "moved" (here: the sender, in "/")
  const moved = nextEvent(sock, "moved");
  sock.emit("move", { x: 1, y: 1 });
  const [move, by] = await moved;
  assert.deepEqual(move, { x: 1, y: 1 });
  assert.equal(by, sock.id);
  out({ check: "typed emit", move, by });
  sock.disconnect();
}

main().catch((err) => {
  out({ check: "failed", error: String(err && err.stack ? err.stack : err) });
  process.exit(1);
});
