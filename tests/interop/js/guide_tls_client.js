// The official client over TLS, trusting one certificate (docs/deployment.md, TLS in nginx).
//
//   node guide_tls_client.js URL CA_FILE
//
// Connects once over polling (upgrading to WebSocket) and once over WebSocket only; for
// each prints {"transports", "echo", "proto", "transport"} where "transport" is the one in
// use after the echo, or {"transports", "error"}.
"use strict";

const fs = require("fs");
const { io } = require("socket.io-client");

const [url, caFile] = process.argv.slice(2);
const ca = fs.readFileSync(caFile);
const out = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");

function run(transports) {
  return new Promise((resolve) => {
    const socket = io(url, { ca, transports, forceNew: true, reconnection: false });
    const finish = (result) => {
      socket.close();
      resolve({ transports, ...result });
    };
    socket.on("connect_error", (err) => finish({ error: err.message }));
    socket.on("connect", async () => {
      try {
        const echo = await socket.timeout(5000).emitWithAck("echo", "secret");
        const proto = await socket.timeout(5000).emitWithAck("proto");
        const deadline = Date.now() + 5000;
        while (socket.io.engine.transport.name !== "websocket" && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 50));
        }
        finish({ echo, proto, transport: socket.io.engine.transport.name });
      } catch (err) {
        finish({ error: String(err) });
      }
    });
  });
}

(async () => {
  for (const transports of [["polling", "websocket"], ["websocket"]]) {
    out(await run(transports));
  }
  process.exit(0);
})();
