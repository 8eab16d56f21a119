// The official client against the JWT server of docs/guides/authentication.md.
//
//   node guide_auth_client.js URL ATTEMPTS_JSON
//
// ATTEMPTS_JSON is a list of {"name", "auth", "transports"?}. For each attempt, in order,
// prints one line: {"name", "connected": true, "whoami"} when the server accepted the
// client (and answered "whoami"), or {"name", "connected": false, "message", "data"} with
// what the client's connect_error listener received.
"use strict";

const { io } = require("socket.io-client");

const [url, attemptsJson] = process.argv.slice(2);
const out = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");

function attempt({ name, auth, transports }) {
  return new Promise((resolve) => {
    const socket = io(url, {
      auth,
      transports: transports || ["polling", "websocket"],
      forceNew: true,
      reconnection: false,
    });
    const finish = (result) => {
      clearTimeout(timer);
      socket.close();
      resolve({ name, ...result });
    };
    const timer = setTimeout(() => finish({ connected: null, message: "no answer" }), 10000);
    socket.on("connect", async () => {
      try {
        finish({ connected: true, whoami: await socket.timeout(5000).emitWithAck("whoami") });
      } catch (err) {
        finish({ connected: true, whoami: null, message: String(err) });
      }
    });
    socket.on("connect_error", (err) => {
      finish({ connected: false, message: err.message, data: err.data === undefined ? null : err.data });
    });
  });
}

(async () => {
  for (const a of JSON.parse(attemptsJson)) {
    out(await attempt(a));
  }
  process.exit(0);
})();
