// A fleet of official socket.io-client sockets that hold a backlog while the server shuts
// down (tests/server/test_shutdown.py).
//
//   node shutdown_fleet.js --url http://127.0.0.1:N --clients K --expect M --size S
//                          [--transport websocket|polling] [--slow-ms 2000] [--never-read]
//
// Each client connects to "/" without reconnection and, on WebSocket, stops reading its
// socket at once, so that what the server sends piles up in the server. It prints
// {"ready": K} once every client is connected. On "go" (a line on stdin) the clients
// start reading: slowly for --slow-ms (reading 20 ms out of every 100), then at full
// speed; with --never-read they never read. Each client counts the "m" events (checking
// that they come in order and whole), and records its disconnect reason, the count at
// that moment, and how its WebSocket closed. Once every client is disconnected (or on
// "report"), it prints
//   {"report": true, "clients": K, "complete": n, "inOrder": n, "reasons": {...},
//    "counts": {"min": a, "max": b}, "wsCloses": {...}, "countAtGo": n}
// (countAtGo: the messages the clients had read when "go" came; lastDisconnectMs: when the
// last client was disconnected, after "go").
// and exits. "resume" makes every client read (a client that does not read does not see
// its connection dropped either).
"use strict";

const readline = require("readline");
const { io } = require("socket.io-client");

function argValue(name, fallback) {
  const index = process.argv.indexOf(name);
  return index >= 0 && index + 1 < process.argv.length ? process.argv[index + 1] : fallback;
}

const url = argValue("--url", "http://127.0.0.1:3000");
const total = Number(argValue("--clients", "100"));
const expect = Number(argValue("--expect", "200"));
const size = Number(argValue("--size", "10240"));
const transport = argValue("--transport", "websocket");
const slowMs = Number(argValue("--slow-ms", "2000"));
const neverRead = process.argv.includes("--never-read");
const out = (obj) => console.log(JSON.stringify(obj));

const clients = [];
let connected = 0;
let disconnected = 0;
let reported = false;

function rawSocket(socket) {
  const engine = socket.io.engine;
  const ws = engine && engine.transport && engine.transport.ws;
  return ws ? ws._socket : null;
}

function report() {
  if (reported) return;
  reported = true;
  const reasons = {};
  const wsCloses = {};
  let complete = 0;
  let inOrder = 0;
  let min = Infinity;
  let max = 0;
  let lastDisconnect = null;
  for (const c of clients) {
    reasons[c.reason] = (reasons[c.reason] || 0) + 1;
    wsCloses[c.wsClose] = (wsCloses[c.wsClose] || 0) + 1;
    if (c.countAtDisconnect === expect) complete += 1;
    if (c.inOrder) inOrder += 1;
    if (c.disconnectedAt && goAt !== null) {
      lastDisconnect = Math.max(lastDisconnect || 0, c.disconnectedAt - goAt);
    }
    min = Math.min(min, c.count);
    max = Math.max(max, c.count);
  }
  out({
    report: true,
    clients: clients.length,
    complete,
    inOrder,
    reasons,
    counts: { min, max },
    wsCloses,
    countAtGo,
    lastDisconnectMs: lastDisconnect,
  });
  setTimeout(() => process.exit(0), 50);
}

function setReading(on) {
  for (const c of clients) {
    const raw = c.raw;
    if (!raw || raw.destroyed) continue;
    if (on) raw.resume();
    else raw.pause();
  }
}

let countAtGo = null;
let goAt = null;

function startReading() {
  goAt = Date.now();
  countAtGo = clients.reduce((sum, c) => sum + c.count, 0);
  if (neverRead) return;
  const started = Date.now();
  const phase = () => {
    setReading(true);
    if (Date.now() - started >= slowMs) return; // full speed from now on
    setTimeout(() => {
      setReading(false);
      setTimeout(phase, 80);
    }, 20);
  };
  phase();
}

for (let i = 0; i < total; i++) {
  const socket = io(url, { forceNew: true, transports: [transport], reconnection: false });
  const c = {
    count: 0,
    inOrder: true,
    reason: null,
    countAtDisconnect: null,
    wsClose: null,
    raw: null,
  };
  clients.push(c);
  socket.on("m", (index, text) => {
    if (index !== c.count || typeof text !== "string" || text.length !== size) c.inOrder = false;
    c.count += 1;
  });
  socket.once("connect", () => {
    if (transport === "websocket") {
      const ws = socket.io.engine.transport.ws;
      ws.on("close", (code) => {
        c.wsClose = code;
      });
      c.raw = rawSocket(socket);
      c.raw.pause();
    }
    connected += 1;
    if (connected === total) out({ ready: total });
  });
  socket.on("connect_error", (err) => {
    out({ connect_error: String(err && err.message) });
  });
  socket.on("disconnect", (reason) => {
    c.disconnectedAt = Date.now();
    c.reason = reason;
    c.countAtDisconnect = c.count;
    disconnected += 1;
    // the WebSocket's close event comes a moment after the DISCONNECT
    if (disconnected === total) setTimeout(report, 300);
  });
}

readline.createInterface({ input: process.stdin }).on("line", (line) => {
  const command = line.trim().replace(/^"|"$/g, "");
  if (command === "go") startReading();
  else if (command === "resume") setReading(true);
  else if (command === "report") report();
});
