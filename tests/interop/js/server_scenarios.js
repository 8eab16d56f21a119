// Drives an aiosocketio Server with the official socket.io-client 4.8.
//
//   node server_scenarios.js <url> <websocket|polling|upgrade> [scenario ...]
//
// Runs each scenario in turn and prints one JSON line per scenario:
// {"scenario": name, "ok": true, ...observations} or {"scenario", "ok": false, "error"}.
// The Python test (tests/server/test_interop.py) owns the assertions.
"use strict";

const { io, Manager } = require("socket.io-client");

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

function once(sock, ev) {
  return new Promise((resolve) => sock.once(ev, (...args) => resolve(args)));
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

function hex(buf) {
  return Buffer.from(buf).toString("hex");
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function recorder(sock) {
  const log = [];
  sock.onAny((ev, ...args) => {
    if (!["done", "poll", "upgraded", "welcome"].includes(ev)) log.push([ev, ...args]);
  });
  return log;
}

const scenarios = {
  async events() {
    const s = client("/", { auth: { token: "abc" }, query: { q: "1" } });
    const welcome = once(s, "welcome");
    await connected(s);
    const [w] = await welcome;
    const echo = await s.emitWithAck("echo", {
      n: 1,
      data: Buffer.from([4, 5]),
      list: [Buffer.from([6]), "x"],
    });
    const intEvent = await s.emitWithAck(7, "seven");
    const clientId = s.id;
    s.disconnect();
    return {
      sameId: w.id === clientId,
      clientId,
      order: w.order,
      bin: hex(w.bin),
      nested: hex(w.nested.list[0]),
      handshake: w.handshake,
      transport: w.transport,
      echo: { n: echo.n, data: hex(echo.data), list0: hex(echo.list[0]), list1: echo.list[1] },
      intEvent,
    };
  },

  async acks() {
    const s = client();
    await connected(s);
    s.on("ask", (x, cb) => cb({ answer: x * 2 }));
    s.on("ignore-me", () => {});
    const sum = await s.emitWithAck("sum", 1, 2);
    const multi = await new Promise((resolve) => s.emit("multi", (...a) => resolve(a)));
    const nodeStyle = await new Promise((resolve) => s.emit("node-style", 5, (...a) => resolve(a)));
    const asked = await s.emitWithAck("ask-me", 21);
    let clientTimeout = null;
    try {
      await s.timeout(100).emitWithAck("no-answer");
    } catch (e) {
      clientTimeout = e.message;
    }
    const serverTimeout = await s.emitWithAck("server-timeout");
    const serverTimeoutKw = await s.emitWithAck("server-timeout-kw");
    const askedKw = await s.emitWithAck("ask-me-kw", 4);
    const binAck = await s.emitWithAck("bin-ack");
    s.disconnect();
    return {
      sum,
      multi,
      nodeStyle,
      asked,
      clientTimeout,
      serverTimeout,
      serverTimeoutKw,
      askedKw,
      binAck: hex(binAck.b),
    };
  },

  async broadcast() {
    const [a, b, c] = [client(), client(), client()];
    await Promise.all([a, b, c].map(connected));
    const logs = [a, b, c].map(recorder);
    const done = [a, b, c].map((s) => once(s, "done"));
    a.on("poll", (cb) => cb("a"));
    b.on("poll", (cb) => cb("b"));
    c.on("poll", (cb) => cb("c"));
    await a.emitWithAck("join", ["r1", "r2"]);
    await b.emitWithAck("join", ["r1"]);
    await c.emitWithAck("join", ["r3"]);
    const poll = await a.emitWithAck("run-broadcasts");
    await Promise.all(done);
    for (const s of [a, b, c]) s.disconnect();
    return { a: logs[0], b: logs[1], c: logs[2], poll };
  },

  async namespaces() {
    const manager = new Manager(url, { forceNew: true, reconnection: false, ...transportOpts });
    const main = manager.socket("/");
    const admin = manager.socket("/admin", { auth: { token: "secret" } });
    const mainWelcome = once(main, "welcome");
    const adminWelcome = once(admin, "admin-welcome");
    main.connect();
    admin.connect();
    await Promise.all([connected(main), connected(admin)]);
    const [mw] = await mainWelcome;
    const [aw] = await adminWelcome;
    const badAdmin = await connectError(client("/admin", { auth: { token: "wrong" } }));
    const unknown = await connectError(client("/nowhere"));
    const refused = await connectError(client("/", { auth: { refuse: true } }));
    const result = {
      sameConnection: mw.conn === aw.conn,
      adminIdMatches: aw.id === admin.id,
      distinctIds: main.id !== admin.id,
      badAdmin,
      unknown,
      refused,
    };
    main.disconnect();
    admin.disconnect();
    return result;
  },

  async socketUse() {
    const s = client();
    await connected(s);
    const allowed = await s.emitWithAck("allowed");
    const reason = once(s, "disconnect");
    s.emit("forbidden");
    const [why] = await reason;
    return { allowed, reason: why };
  },

  async disconnecting() {
    const [a, b] = [client(), client()];
    await Promise.all([a, b].map(connected));
    await a.emitWithAck("join", ["room-d"]);
    await b.emitWithAck("join", ["room-d"]);
    const aId = a.id;
    const left = once(b, "peer-left");
    a.disconnect();
    const [id, reason, rooms] = await left;
    b.disconnect();
    return { sameId: id === aId, reason, rooms };
  },

  async utility() {
    const [a, b] = [client(), client()];
    await Promise.all([a, b].map(connected));
    await a.emitWithAck("join", ["u"]);
    await b.emitWithAck("join", ["u"]);
    const fromFetch = once(b, "hello-from-fetch");
    const bReason = once(b, "disconnect");
    const [aId, bId] = [a.id, b.id];
    const result = await a.emitWithAck("utility", bId);
    const [fetchedId] = await fromFetch;
    const [reason] = await bReason;
    a.disconnect();
    return { ...result, fetchedIdIsB: fetchedId === bId, aId, bId, bReason: reason };
  },

  async misc() {
    const s = client();
    await connected(s);
    const outgoing = [];
    s.onAnyOutgoing((ev) => outgoing.push(ev));
    const message = once(s, "message");
    s.send("hi", 1);
    const [back] = await message;
    s.volatile.emit("volatile-ping");
    s.compress(false).emit("uncompressed", "x");
    const seen = await s.emitWithAck("seen-by-any");
    const big = Buffer.alloc(200000, 7);
    const bigBack = await s.emitWithAck("echo", { big });
    const bursts = [];
    const burstDone = new Promise((resolve) => {
      s.on("burst", (i) => {
        bursts.push(i);
        if (i === 199) resolve();
      });
    });
    for (let i = 0; i < 200; i++) s.emit("burst-request", i);
    await burstDone;
    const firstId = s.id;
    s.disconnect();
    s.connect();
    await connected(s);
    const secondId = s.id;
    const closing = once(s, "disconnect");
    s.emit("close-me");
    const [closeReason] = await closing;
    return {
      back,
      seen,
      bigOk: Buffer.from(bigBack.big).equals(big),
      burstsInOrder: bursts.every((v, i) => v === i) && bursts.length === 200,
      newIdAfterReconnect: firstId !== secondId && !!secondId,
      closeReason,
      engineClosed: s.io.engine === null || s.io.engine.readyState !== "open",
      outgoing: outgoing.slice(0, 3),
    };
  },

  async dynamic() {
    const ok = client("/dyn-123");
    const welcome = once(ok, "dyn-welcome");
    await connected(ok);
    const [w] = await welcome;
    const bad = await connectError(client("/dyn-abc"));
    ok.disconnect();
    return { welcome: w, bad };
  },

  async upgrade() {
    const s = client();
    const upgraded = once(s, "upgraded");
    await connected(s);
    const [name] = await upgraded;
    const after = await s.emitWithAck("sum", 2, 3);
    const transport = s.io.engine.transport.name;
    s.disconnect();
    return { upgradedTo: name, transport, after };
  },

  async heartbeat() {
    const s = client();
    await connected(s);
    await sleep(700);
    const stillConnected = s.connected;
    const after = await s.emitWithAck("sum", 1, 1);
    s.disconnect();
    return { stillConnected, after };
  },
};

(async () => {
  const names = wanted.length ? wanted : Object.keys(scenarios);
  for (const name of names) {
    let timer;
    try {
      const result = await Promise.race([
        scenarios[name](),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(`scenario ${name} timed out`)), 8000);
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
