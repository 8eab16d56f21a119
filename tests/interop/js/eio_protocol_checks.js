// Protocol checks against an Engine.IO echo server configured like the conformance server
// (pingInterval 300 ms, pingTimeout 200 ms, maxPayload 1e6, path /engine.io/), using Node's
// fetch and the npm `ws` client. They exercise the HTTP front end as much as the engine:
// status codes, long-poll aborts, heartbeats, upgrades and close handshakes.
//
//   node eio_protocol_checks.js --port N
//
// Prints one {"check": name, "ok": bool, "error"?: string} line per check, then {"done": n}.
"use strict";

const WebSocket = require("ws");

function argValue(name, fallback) {
  const index = process.argv.indexOf(name);
  return index >= 0 && index + 1 < process.argv.length ? process.argv[index + 1] : fallback;
}

const port = Number(argValue("--port", "3000"));
const base = `http://127.0.0.1:${port}/engine.io/?EIO=4`;
const wsBase = `ws://127.0.0.1:${port}/engine.io/?EIO=4`;
const out = (obj) => console.log(JSON.stringify(obj));
const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function check(condition, message) {
  if (!condition) throw new Error(message);
}

async function openPolling() {
  const res = await fetch(`${base}&transport=polling`);
  check(res.status === 200, `handshake status ${res.status}`);
  const text = await res.text();
  check(text[0] === "0", `handshake body ${text}`);
  return JSON.parse(text.slice(1));
}

// A WebSocket whose events are queued, so a check can await them one by one.
function queuedSocket(url) {
  const ws = new WebSocket(url);
  const queues = { message: [], close: [], open: [] };
  const waiters = { message: [], close: [], open: [] };
  const push = (kind, value) => {
    if (waiters[kind].length) waiters[kind].shift()(value);
    else queues[kind].push(value);
  };
  ws.on("open", () => push("open", true));
  ws.on("message", (data, isBinary) => push("message", isBinary ? Buffer.from(data) : String(data)));
  ws.on("close", (code) => push("close", code));
  ws.on("error", () => {});
  ws.next = (kind, ms = 3000) =>
    new Promise((resolve, reject) => {
      if (queues[kind].length) return resolve(queues[kind].shift());
      const timer = setTimeout(() => reject(new Error(`no ${kind} within ${ms} ms`)), ms);
      waiters[kind].push((value) => {
        clearTimeout(timer);
        resolve(value);
      });
    });
  return ws;
}

const checks = {
  async "polling handshake advertises the options"() {
    const open = await openPolling();
    check(typeof open.sid === "string" && open.sid.length === 20, `sid ${open.sid}`);
    check(JSON.stringify(open.upgrades) === '["websocket"]', `upgrades ${open.upgrades}`);
    check(open.pingInterval === 300 && open.pingTimeout === 200, "heartbeat settings");
    check(open.maxPayload === 1000000, `maxPayload ${open.maxPayload}`);
  },
  async "bad handshakes get 400"() {
    for (const query of ["&transport=polling&EIO=abc", "", "&transport=abc"]) {
      const res = await fetch(`http://127.0.0.1:${port}/engine.io/?${query.slice(1)}`);
      check(res.status === 400, `${query}: ${res.status}`);
    }
    const put = await fetch(`${base}&transport=polling`, { method: "PUT" });
    check(put.status === 400, `PUT: ${put.status}`);
  },
  async "polling echoes text and binary packets"() {
    const { sid } = await openPolling();
    const post = await fetch(`${base}&transport=polling&sid=${sid}`, {
      method: "POST",
      body: "4one\x1e4two\x1ebAQIDBA==",
    });
    check(post.status === 200 && (await post.text()) === "ok", "post");
    const poll = await fetch(`${base}&transport=polling&sid=${sid}`);
    const body = await poll.text();
    check(body === "4one\x1e4two\x1ebAQIDBA==", `poll body ${JSON.stringify(body)}`);
  },
  async "an aborted long-poll closes the session"() {
    const { sid } = await openPolling();
    const controller = new AbortController();
    fetch(`${base}&transport=polling&sid=${sid}`, { signal: controller.signal }).catch(() => {});
    await pause(50);
    controller.abort();
    await pause(50);
    const res = await fetch(`${base}&transport=polling&sid=${sid}`);
    check(res.status === 400, `after abort: ${res.status}`);
  },
  async "a POST over maxPayload gets 413"() {
    const { sid } = await openPolling();
    const res = await fetch(`${base}&transport=polling&sid=${sid}`, {
      method: "POST",
      body: "4" + "x".repeat(1000001),
    });
    check(res.status === 413, `status ${res.status}`);
  },
  async "polling heartbeat"() {
    const { sid } = await openPolling();
    for (let i = 0; i < 2; i++) {
      const poll = await fetch(`${base}&transport=polling&sid=${sid}`);
      check((await poll.text()) === "2", "ping expected");
      const pong = await fetch(`${base}&transport=polling&sid=${sid}`, { method: "POST", body: "3" });
      check(pong.status === 200, "pong accepted");
    }
    await pause(600);
    const late = await fetch(`${base}&transport=polling&sid=${sid}`);
    check(late.status === 400, `after ping timeout: ${late.status}`);
  },
  async "websocket handshake, echo and heartbeat"() {
    const ws = queuedSocket(`${wsBase}&transport=websocket`);
    const open = JSON.parse((await ws.next("message")).slice(1));
    check(JSON.stringify(open.upgrades) === "[]", "no upgrades on websocket");
    ws.send("4hello");
    check((await ws.next("message")) === "4hello", "text echo");
    ws.send(Buffer.from([1, 2, 3, 4]));
    const bin = await ws.next("message");
    check(Buffer.isBuffer(bin) && bin.equals(Buffer.from([1, 2, 3, 4])), "binary echo");
    for (let i = 0; i < 2; i++) {
      check((await ws.next("message")) === "2", "ping");
      ws.send("3");
    }
    ws.close();
    await ws.next("close");
  },
  async "websocket without pongs is closed"() {
    const ws = queuedSocket(`${wsBase}&transport=websocket`);
    await ws.next("message");
    await ws.next("close", 3000);
  },
  async "bad websocket handshakes are refused"() {
    for (const url of [
      `ws://127.0.0.1:${port}/engine.io/?transport=websocket`,
      `${wsBase}&transport=abc`,
      `${wsBase}&transport=websocket&sid=unknown`,
    ]) {
      const ws = queuedSocket(url);
      await ws.next("close");
    }
  },
  async "an invalid packet closes the websocket"() {
    const ws = queuedSocket(`${wsBase}&transport=websocket`);
    await ws.next("message");
    ws.send("abc");
    await ws.next("close");
  },
  async "a close packet closes the websocket"() {
    const ws = queuedSocket(`${wsBase}&transport=websocket`);
    await ws.next("message");
    ws.send("1");
    await ws.next("close");
  },
  async "a message over maxPayload closes the websocket"() {
    const ws = queuedSocket(`${wsBase}&transport=websocket`);
    await ws.next("message");
    ws.send("4" + "y".repeat(1000001));
    const code = await ws.next("close");
    check(code === 1009, `close code ${code}`);
  },
  async "upgrade from polling"() {
    const { sid } = await openPolling();
    const ws = queuedSocket(`${wsBase}&transport=websocket&sid=${sid}`);
    await ws.next("open");
    ws.send("2probe");
    check((await ws.next("message")) === "3probe", "probe answer");
    const poll = await fetch(`${base}&transport=polling&sid=${sid}`);
    check((await poll.text()) === "6", "noop ends the pending poll");
    ws.send("5");
    ws.send("4upgraded");
    check((await ws.next("message")) === "4upgraded", "echo after upgrade");
    const stale = await fetch(`${base}&transport=polling&sid=${sid}`);
    check(stale.status === 400, `polling after upgrade: ${stale.status}`);
    const second = queuedSocket(`${wsBase}&transport=websocket&sid=${sid}`);
    await second.next("close");
    ws.send("4still");
    check((await ws.next("message")) === "4still", "first websocket still works");
    ws.close();
  },
};

(async () => {
  let n = 0;
  for (const [name, fn] of Object.entries(checks)) {
    try {
      await fn();
      out({ check: name, ok: true });
    } catch (err) {
      out({ check: name, ok: false, error: String(err && err.stack ? err.stack : err) });
    }
    n += 1;
  }
  out({ done: n });
  process.exit(0);
})();
