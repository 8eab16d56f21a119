// A fleet of socket.io-client 4.8 clients driven by JSON lines on stdin.
//   {"id":1,"cmd":"connect","name":"a","url":"http://127.0.0.1:N","nsp":"/","auth":{...},"transports":[...]}
//   {"id":2,"cmd":"emit","name":"a","event":"x","args":[...],"ack":true}
//   {"id":3,"cmd":"close","name":"a"}
//   {"id":4,"cmd":"drop","name":"a"}: close the transport (the server may keep the session)
//   {"id":5,"cmd":"reconnect","name":"a","url":"http://127.0.0.1:M"}: connect again, maybe
//   to another server of the cluster (with the session's pid and offset, if any)
//   {"id":6,"cmd":"transport","name":"a"}: the Engine.IO transport in use ("polling",
//   "websocket" once upgraded)
// "connect" may carry "opts", more options of io() (e.g. {"withCredentials": true}).
// Every event a client receives is printed as {"client","event","args"}; an event that
// carries an ack callback is answered with {"client": name}. Disconnections are printed too.
"use strict";
const { io } = require("socket.io-client");
const { print, onLines } = require("./cluster_common");

const clients = new Map();

function connected(socket) {
  return new Promise((resolve, reject) => {
    socket.once("connect", () => resolve({ sid: socket.id, recovered: socket.recovered }));
    socket.once("connect_error", (e) => reject(e));
  });
}

onLines(async (msg) => {
  switch (msg.cmd) {
    case "connect": {
      const socket = io(msg.url + (msg.nsp && msg.nsp !== "/" ? msg.nsp : ""), {
        auth: msg.auth || {},
        transports: msg.transports || ["websocket"],
        reconnection: false,
        forceNew: true,
        ...(msg.opts || {}),
      });
      clients.set(msg.name, socket);
      socket.onAny((event, ...args) => {
        const last = args[args.length - 1];
        if (typeof last === "function") {
          args.pop();
          last({ client: msg.name });
        }
        print({ client: msg.name, event, args });
      });
      socket.on("disconnect", (reason) => print({ client: msg.name, disconnect: reason }));
      return await connected(socket);
    }
    case "drop":
      clients.get(msg.name).io.engine.close();
      return true;
    case "reconnect": {
      const socket = clients.get(msg.name);
      // the Manager builds its next Engine.IO connection from `uri`
      socket.io.uri = msg.url;
      socket.connect();
      return await connected(socket);
    }
    case "emit": {
      const socket = clients.get(msg.name);
      if (msg.ack) return await socket.timeout(5000).emitWithAck(msg.event, ...(msg.args || []));
      socket.emit(msg.event, ...(msg.args || []));
      return true;
    }
    case "transport":
      return clients.get(msg.name).io.engine.transport.name;
    case "close":
      clients.get(msg.name).disconnect();
      return true;
    case "closeAll":
      for (const s of clients.values()) s.disconnect();
      return true;
    default:
      throw new Error("unknown command " + msg.cmd);
  }
});
print({ ready: true });
