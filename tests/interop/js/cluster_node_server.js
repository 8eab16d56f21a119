// A Node socket.io 4.8 server on @socket.io/redis-adapter 8.3, driven by JSON lines on stdin.
//   node cluster_node_server.js '{"key":"sio-test-x","redis":"redis://127.0.0.1:6379","mode":"classic"}'
// mode: "classic" (createAdapter) | "sharded" (createShardedAdapter, with subscriptionMode)
//   | "streams" (@socket.io/redis-streams-adapter on the stream `key`; cfg.recovery: the
//   maxDisconnectionDuration in ms of connectionStateRecovery, cfg.sessionKeyPrefix)
//   | "postgres" (@socket.io/postgres-adapter on cfg.postgres, a connection string, with the
//   channel prefix `key`, cfg.tableName, cfg.heartbeatInterval, cfg.heartbeatTimeout,
//   cfg.cleanupInterval; the "emitter" command uses @socket.io/postgres-emitter).
// cfg.cluster: a list of redis:// URLs of Redis Cluster nodes; the clients are then the
//   `redis` package's createCluster (the seeds are those nodes) instead of createClient.
// Prints {"port": N} once listening, then {"id", "result"|"error"} for each command, and
// {"event": "serverSideEmit", "args": [...]} when another server calls serverSideEmit.
"use strict";
const http = require("http");
const { Server } = require("socket.io");
const { createClient, createCluster } = require("redis");
const { createAdapter, createShardedAdapter } = require("@socket.io/redis-adapter");
const { Emitter } = require("@socket.io/redis-emitter");
const { createAdapter: createStreamsAdapter } = require("@socket.io/redis-streams-adapter");
const { print, onLines } = require("./cluster_common");

const cfg = JSON.parse(process.argv[2] || "{}");
const key = cfg.key || "socket.io";
const url = cfg.redis || "redis://127.0.0.1:6379";
const mode = cfg.mode || "classic";
const NSPS = cfg.nsps || ["/"];

async function postgresCluster() {
  const { Pool } = require("pg");
  const { createAdapter: createPostgresAdapter } = require("@socket.io/postgres-adapter");
  const { Emitter: PostgresEmitter } = require("@socket.io/postgres-emitter");
  const pool = new Pool({ connectionString: cfg.postgres, max: 5 });
  pool.on("error", (e) => print({ postgresError: String(e) }));
  // The adapter's LISTEN client has no "error" listener: without this one a Postgres restart
  // kills the process (an unhandled "error" event); with it the adapter reconnects on "end".
  pool.on("connect", (client) => client.on("error", (e) => print({ postgresError: String(e) })));
  const tableName = cfg.tableName || "socket_io_attachments";
  const adapter = createPostgresAdapter(pool, {
    channelPrefix: key,
    tableName,
    requestsTimeout: cfg.requestsTimeout || 3000,
    heartbeatInterval: cfg.heartbeatInterval || 5000,
    heartbeatTimeout: cfg.heartbeatTimeout || 10000,
    cleanupInterval: cfg.cleanupInterval || 30000,
    errorHandler: (e) => print({ postgresError: String(e) }),
  });
  const emitter = new PostgresEmitter(pool, "/", { channelPrefix: key, tableName });
  return { adapter, emitter, quit: () => [pool.end()] };
}

async function redisCluster() {
  const pub = Array.isArray(cfg.cluster)
    ? createCluster({ rootNodes: cfg.cluster.map((u) => ({ url: u })) })
    : createClient({ url });
  const sub = pub.duplicate();
  const emitterClient = pub.duplicate();
  for (const c of [pub, sub, emitterClient]) c.on("error", (e) => print({ redisError: String(e) }));
  await Promise.all([pub.connect(), sub.connect(), emitterClient.connect()]);
  const opts = { requestsTimeout: cfg.requestsTimeout || 3000 };
  const adapter =
    mode === "streams"
      ? createStreamsAdapter(pub, {
          streamName: key,
          channelPrefix: key,
          sessionKeyPrefix: cfg.sessionKeyPrefix || "sio:session:",
          blockTimeInMs: cfg.blockTimeInMs || 5000,
        })
      : mode === "sharded"
        ? createShardedAdapter(pub, sub, { channelPrefix: key, subscriptionMode: cfg.subscriptionMode || "dynamic" })
        : createAdapter(pub, sub, { key, ...opts, publishOnSpecificResponseChannel: !!cfg.specific });
  const emitter = new Emitter(emitterClient, { key });
  return { adapter, emitter, quit: () => [pub.quit(), sub.quit(), emitterClient.quit()] };
}

async function main() {
  const { adapter, emitter, quit } = mode === "postgres" ? await postgresCluster() : await redisCluster();
  const httpServer = http.createServer();
  const serverOpts = { adapter, pingInterval: 2000, pingTimeout: 2000 };
  if (cfg.recovery) {
    serverOpts.connectionStateRecovery = { maxDisconnectionDuration: cfg.recovery, skipMiddlewares: true };
  }
  const io = new Server(httpServer, serverOpts);

  for (const name of NSPS) {
    const nsp = io.of(name);
    nsp.on("connection", (socket) => {
      const auth = socket.handshake.auth || {};
      socket.data = { name: auth.name || null, server: "node" };
      if (Array.isArray(auth.rooms)) socket.join(auth.rooms);
      socket.on("whoami", (cb) => typeof cb === "function" && cb({ server: "node", id: socket.id }));
    });
    nsp.on("sse", (...args) => {
      const last = args[args.length - 1];
      const withAck = typeof last === "function";
      if (withAck) args.pop();
      print({ event: "serverSideEmit", nsp: name, args });
      if (withAck) last({ from: "node", got: args });
    });
  }

  function target(nspName, msg) {
    let op = io.of(nspName || "/");
    if (msg.rooms && msg.rooms.length) op = op.to(msg.rooms);
    if (msg.except && msg.except.length) op = op.except(msg.except);
    if (msg.local) op = op.local;
    if (msg.volatile) op = op.volatile;
    if (msg.compress === false) op = op.compress(false);
    if (msg.timeout) op = op.timeout(msg.timeout);
    return op;
  }

  onLines((msg) => {
    if (!msg.nowait) return handle(msg);
    handle(msg).catch(() => {});
    return true;
  });

  async function handle(msg) {
    const op = () => target(msg.nsp, msg);
    switch (msg.cmd) {
      case "emit":
        op().emit(msg.event, ...(msg.args || []));
        return true;
      case "emitMany": // msg.count broadcasts of (event, i), in one go
        for (let i = 0; i < msg.count; i++) op().emit(msg.event, i);
        return true;
      case "emitWithAck":
        try {
          return await op().emitWithAck(msg.event, ...(msg.args || []));
        } catch (e) {
          return { error: e.message, responses: e.responses };
        }
      case "socketsJoin":
        op().socketsJoin(msg.join);
        return true;
      case "socketsLeave":
        op().socketsLeave(msg.leave);
        return true;
      case "disconnectSockets":
        op().disconnectSockets(!!msg.close);
        return true;
      case "fetchSockets": {
        const sockets = await op().fetchSockets();
        return sockets.map((s) => ({
          id: s.id,
          data: s.data,
          rooms: [...s.rooms].sort(),
          auth: s.handshake.auth,
          query: s.handshake.query,
          address: s.handshake.address,
        }));
      }
      case "remoteEmit": {
        const sockets = await op().fetchSockets();
        let n = 0;
        for (const s of sockets) {
          if (s.id === msg.sid) {
            s.emit(msg.event, ...(msg.args || []));
            n++;
          }
        }
        return n;
      }
      case "remoteJoin": {
        const sockets = await op().fetchSockets();
        for (const s of sockets) if (s.id === msg.sid) s.join(msg.join);
        return true;
      }
      case "serverSideEmit":
        io.of(msg.nsp || "/").serverSideEmit(msg.event, ...(msg.args || []));
        return true;
      case "serverSideEmitWithAck":
        try {
          return await io.of(msg.nsp || "/").serverSideEmitWithAck(msg.event, ...(msg.args || []));
        } catch (e) {
          return { error: e.message, responses: e.responses };
        }
      case "uid":
        return io.of(msg.nsp || "/").adapter.uid;
      case "serverCount":
        return await io.of(msg.nsp || "/").adapter.serverCount();
      case "localRooms": {
        const out = {};
        for (const [room, sids] of io.of(msg.nsp || "/").adapter.rooms) out[room] = [...sids].sort();
        return out;
      }
      case "emitter": {
        // (@socket.io/postgres-emitter 0.1's of() forgets the options: keep "/" as built)
        const main = msg.nsp && msg.nsp !== "/" ? emitter.of(msg.nsp) : emitter;
        let e = main;
        if (msg.rooms && msg.rooms.length) e = e.to(msg.rooms);
        if (msg.except && msg.except.length) e = e.except(msg.except);
        if (msg.volatile) e = e.volatile;
        if (msg.action === "emit") e.emit(msg.event, ...(msg.args || []));
        else if (msg.action === "socketsJoin") e.socketsJoin(msg.join);
        else if (msg.action === "socketsLeave") e.socketsLeave(msg.leave);
        else if (msg.action === "disconnectSockets") e.disconnectSockets(!!msg.close);
        else if (msg.action === "serverSideEmit") main.serverSideEmit(msg.event, ...(msg.args || []));
        return true;
      }
      case "close":
        io.close();
        await Promise.allSettled(quit());
        setTimeout(() => process.exit(0), 50);
        return true;
      default:
        throw new Error("unknown command " + msg.cmd);
    }
  }

  httpServer.listen(0, "127.0.0.1", () => print({ port: httpServer.address().port }));
}

main().catch((e) => {
  print({ fatal: String(e && e.stack) });
  process.exit(1);
});
