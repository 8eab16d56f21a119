// Four socket.io-client sockets ("/" and "/chat", over websocket and polling) that report
// why they were disconnected, then exit.
//
//   node server_close_clients.js <port>
"use strict";

const { io } = require("socket.io-client");

const url = `http://127.0.0.1:${process.argv[2]}`;
let pending = 0;
for (const transports of [["websocket"], ["polling"]]) {
  for (const nsp of ["/", "/chat"]) {
    pending += 1;
    const s = io(url + nsp, { forceNew: true, transports, reconnectionDelay: 50 });
    s.on("connect", () => console.log(JSON.stringify({ connected: nsp, transport: transports[0] })));
    s.on("disconnect", (reason) => {
      console.log(JSON.stringify({ nsp, transport: transports[0], reason, active: s.active }));
      pending -= 1;
      if (pending === 0) setTimeout(() => process.exit(0), 200);
    });
  }
}
setTimeout(() => process.exit(1), 8000);
