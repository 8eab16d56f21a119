// Drives the error and awaitable-emit app (tests/server/test_errors.py) with the official
// socket.io-client 4.8.
//
//   node server_errors_client.js <url> <websocket|polling|upgrade> <scenario ...>
//
// Prints one JSON line per scenario: {"scenario", "ok": true, ...observations} or
// {"scenario", "ok": false, "error"}. The Python test owns the assertions.
"use strict";

const { io } = require("socket.io-client");

const [url, mode, ...wanted] = process.argv.slice(2);
const transportOpts =
  mode === "websocket"
    ? { transports: ["websocket"] }
    : mode === "polling"
      ? { transports: ["polling"] }
      : { transports: ["polling", "websocket"] };

function out(obj) {
  process.stdout.write(JSON.stringify(obj) + "\n");
}

function client(nsp = "/", extra = {}) {
  return io(url + nsp, { forceNew: true, reconnection: false, ...transportOpts, ...extra });
}

function connected(sock) {
  if (sock.connected) return Promise.resolve();
  return new Promise((resolve, reject) => {
    sock.once("connect", resolve);
    sock.once("connect_error", reject);
  });
}

function connectError(sock) {
  return new Promise((resolve, reject) => {
    sock.once("connect", () => reject(new Error("unexpectedly connected")));
    sock.once("connect_error", (err) => resolve({ message: err.message, data: err.data ?? null }));
  });
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// An ack that never comes: the client's own timeout tells (as an app would see it).
function ackOrTimeout(sock, ...args) {
  return sock
    .timeout(700)
    .emitWithAck(...args)
    .then(
      (value) => ({ value }),
      (err) => ({ error: err.message }),
    );
}

const scenarios = {
  async errors() {
    const s = client("/");
    await connected(s);
    s.emit("boom", 1);
    s.emit("boom_async", 2);
    s.emit("blocked", 3);
    s.emit("any_boom", 4);
    s.emit("too_many", 1, 2, 3);
    const badAck = await ackOrTimeout(s, "bad_ack");
    const pysio = await ackOrTimeout(s, "pysio", "hi");
    const failingAck = await ackOrTimeout(s, "boom_async", 5);
    // the server handles a connection's packets in order: once this answers, it saw them all
    const pong = await s.emitWithAck("ping");
    const sid = s.id;
    s.disconnect();
    const mw = client("/mw");
    const mwError = await connectError(mw);
    mw.close();
    // a connection handler that throws: the client is connected all the same (as in Node)
    const crash = client("/crash");
    await connected(crash);
    const crashSid = crash.id;
    await crash.emitWithAck("ping");
    crash.disconnect();
    return { sid, badAck, pysio, failingAck, pong, mwError, crashSid };
  },

  async flood() {
    const s = client("/");
    await connected(s);
    for (let i = 0; i < 100; i++) s.emit("boom", i);
    const first = await s.emitWithAck("ping");
    await sleep(1200); // the socket's error budget gets a line back
    s.emit("boom", 100);
    const second = await s.emitWithAck("ping");
    const sid = s.id;
    s.disconnect();
    return { sid, first, second };
  },

  async emits() {
    const s = client("/");
    const log = [];
    s.onAny((event, ...args) => log.push([event, ...args]));
    await connected(s);
    const answer = await s.emitWithAck("go");
    // the events of "go" were written before its ack, on the same connection
    s.disconnect();
    return { answer, log };
  },
};

(async () => {
  for (const name of wanted) {
    let timer;
    try {
      const result = await Promise.race([
        scenarios[name](),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(`scenario ${name} timed out`)), 10000);
        }),
      ]);
      out({ scenario: name, ok: true, ...result });
    } catch (e) {
      out({ scenario: name, ok: false, error: String((e && e.stack) || e) });
    } finally {
      clearTimeout(timer);
    }
  }
  process.exit(0);
})();
