"""Node programs around the documentation's JavaScript snippets.

A server snippet runs inside ``io.on("connection", async (socket) => { ... })`` of a
socket.io 4.8 server listening on a free port: ``io`` is that server, ``socket`` the
server-side socket of a connected socket.io-client, and afterwards a second client connects
and emits, so the handlers and middlewares the snippet registered run too. A client
snippet runs with ``socket`` a socket.io-client socket connected to a live server (the
tests' aiosocketio server, which answers the events the snippets emit), and the example
URLs pointing at it. A snippet that starts a server of its own on port 3000 runs as it is,
on a free port, and a socket.io-client connects to it. The free names the snippets use
(``data``, ``isValid``...) are stubs, as in the Python fragments' runner. The program exits
0 only if the snippet, and whatever it set off, finished without an exception, an
unhandled rejection or a warning, in time.

Snippets that call ``serverSideEmit`` run on ``@socket.io/redis-adapter`` (Node implements
server-side emits only in cluster adapters; the in-memory one warns and never answers),
with a key of their own so that no other server on the local Redis answers; a snippet that
names ``redisClient`` gets a connected node-redis client on database 15, so that the
streams it may create are nobody else's.
"""

from __future__ import annotations

import json
import re

from tests.docs.fragments import CLIENT_ANSWERS, EXAMPLE_URLS, SERVER_ANSWERS
from tests.docs.markdown import NOT_RUN_LINE, Block

REDIS_URL = "redis://127.0.0.1:6379"
IMPORT_LINE = re.compile(r"^import\s+(?P<what>.+?)\s+from\s+\"[^\"]+\";?\s*$")
TIMEOUT_MS = 20_000

_COMMON = """
const __stderr = console.error.bind(console);
const __fail = (what) => (err) => {
  __stderr(`${what}:`, (err && err.stack) || err);
  process.exit(1);
};
process.on("uncaughtException", __fail("uncaught exception"));
process.on("unhandledRejection", __fail("unhandled rejection"));
process.on("warning", __fail("warning"));
console.warn = (...args) => __fail("console.warn")(args.join(" "));
console.error = (...args) => __fail("console.error")(args.join(" "));
const __within = (promise, what) =>
  Promise.race([
    promise,
    new Promise((_, reject) =>
      setTimeout(() => reject(new Error(`timed out: ${what}`)), __TIMEOUT_MS).unref()),
  ]);
const __sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const __answering = (socket, answers) => {
  for (const [event, answer] of Object.entries(answers)) {
    socket.on(event, (...args) => {
      const ack = args[args.length - 1];
      if (typeof ack === "function") ack(answer);
    });
  }
};
const __connected = (socket) =>
  socket.connected ? Promise.resolve() : new Promise((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("connect_error", reject);
  });
// the stubs of the free names
const data = { title: "hello" }, n = 1, x = 10, y = 20, item = "book";
const isValid = (token) => true;
const isUnauthorized = (event) => event === "forbidden";
const fetchUser = async (token) => ({ name: "ada" });
"""

_SERVER = """
import { createRequire } from "node:module";
import http from "node:http";
const require = createRequire(import.meta.url);
const { Server } = require("socket.io");
const { io: __connect } = require("socket.io-client");
const __TIMEOUT_MS = %(timeout)d;
%(common)s
const __options = {};
%(cluster)s
const __http = http.createServer();
const httpServer = http.createServer();  // for snippets that attach: new Server(httpServer)
const io = new Server(__http, __options);
for (const name of ["/", "/admin", "/chat"]) {
  io.of(name).on("connection", (socket) => __answering(socket, %(server_answers)s));
}
await new Promise((resolve) => __http.listen(0, "127.0.0.1", resolve));
const url = `http://127.0.0.1:${__http.address().port}`;
const __clients = [];
const __client = (path = "/") => {
  const socket = __connect(url + path, { forceNew: true, reconnection: false });
  __answering(socket, %(client_answers)s);
  __clients.push(socket);
  return socket;
};
const __first = new Promise((resolve) => io.once("connection", resolve));
__client();
const socket = await __within(__first, "the first connection");
const socketId = socket.id;

await __within((async () => {
// ---- the snippet ----
%(snippet)s
// ---- end of the snippet ----
})(), "the snippet");

if (%(second_client)s) {  // runs the handlers and middlewares the snippet registered
  const second = __client();
  await __within(__connected(second), "the second client's connection");
  second.emit("hello", "world");
  await __within(second.timeout(5000).emitWithAck("update", 1), "the ack of update");
  second.emit("forbidden");  // refused by the per-packet middleware example
}
await __sleep(50);
for (const client of __clients) client.disconnect();
process.exit(0);
"""

_CLUSTER = """
const { createClient } = require("redis");
const { createAdapter } = require("@socket.io/redis-adapter");
const __pub = createClient({ url: "%(redis)s" });
const __sub = __pub.duplicate();
await __within(Promise.all([__pub.connect(), __sub.connect()]), "Redis");
__options.adapter = createAdapter(__pub, __sub, { key: `docs-${process.pid}-${Date.now()}` });
"""

_REDIS_CLIENT = """
const redisClient = require("redis").createClient({ url: "%(redis)s/15" });
await __within(redisClient.connect(), "Redis");
"""

_STANDALONE = """
import { createRequire } from "node:module";
const require = createRequire(import.meta.url);
const { io: __connect } = require("socket.io-client");
const __TIMEOUT_MS = %(timeout)d;
%(common)s
// ---- the snippet ----
%(snippet)s
// ---- end of the snippet ----
const __socket = __connect("http://127.0.0.1:%(port)d", { forceNew: true, reconnection: false });
await __within(__connected(__socket), "a client's connection");
__socket.disconnect();
process.exit(0);
"""

_CLIENT = """
%(imports)s
import { io as __io, Manager as __Manager } from "socket.io-client";
%(provided)s
const __TIMEOUT_MS = %(timeout)d;
%(common)s
const url = process.argv[2];
const socket = __io(url, { forceNew: true, reconnection: false });
__answering(socket, %(client_answers)s);
await __within(__connected(socket), "the connection");

await __within((async () => {
// ---- the snippet ----
%(snippet)s
// ---- end of the snippet ----
})(), "the snippet");

await __sleep(50);
process.exit(0);
"""


def not_run_reason(block: Block) -> str | None:
    """Why the block is not run (its first line says ``(not run: ...)``), else None."""
    match = NOT_RUN_LINE.search(block.first_line)
    return match["why"] if match else None


def split_imports(code: str) -> tuple[list[str], str]:
    """The snippet's top-level ``import`` lines (ESM: they must lead the module), and the rest."""
    imports: list[str] = []
    rest: list[str] = []
    for line in code.splitlines():
        (imports if IMPORT_LINE.match(line) else rest).append(line)
    return imports, "\n".join(rest)


def imported_names(imports: list[str]) -> set[str]:
    names: set[str] = set()
    for line in imports:
        match = IMPORT_LINE.match(line)
        assert match is not None
        what = match["what"].replace("{", ",").replace("}", ",")
        for part in what.split(","):
            words = part.split()
            if words:
                names.add(words[-1])  # "a", "a as b" -> b, "* as ns" -> ns
    return names


def standalone(code: str) -> bool:
    """A snippet that makes and starts its own server on port 3000."""
    return ".listen(3000)" in code


def standalone_program(code: str, port: int) -> str:
    """A Node program running a snippet that starts its own server (on ``port`` instead of
    3000) as it is, then connecting a socket.io-client to that server."""
    return _STANDALONE % {
        "timeout": TIMEOUT_MS,
        "common": _COMMON,
        "snippet": code.replace(".listen(3000)", f".listen({port})"),
        "port": port,
    }


def server_program(code: str) -> str:
    """A Node program (ESM) running a server snippet, as the module docstring says."""
    cluster = _CLUSTER % {"redis": REDIS_URL} if "serverSideEmit" in code else ""
    if "redisClient" in code:
        cluster += _REDIS_CLIENT % {"redis": REDIS_URL}
    return _SERVER % {
        "timeout": TIMEOUT_MS,
        "common": _COMMON,
        "cluster": cluster,
        "server_answers": json.dumps(SERVER_ANSWERS),
        "client_answers": json.dumps(CLIENT_ANSWERS),
        "snippet": code,
        "second_client": "false" if "io.close()" in code else "true",
    }


def client_program(code: str) -> str:
    """A Node program (ESM) running a client snippet; its argument is the server's URL."""
    imports, rest = split_imports(code)
    names = imported_names(imports)
    provided = [f"const {name} = __{name};" for name in ("io", "Manager") if name not in names]
    for example in EXAMPLE_URLS:
        rest = rest.replace(f'"{example}', 'url + "')
    return _CLIENT % {
        "imports": "\n".join(imports),
        "provided": "\n".join(provided),
        "timeout": TIMEOUT_MS,
        "common": _COMMON,
        "client_answers": json.dumps(CLIENT_ANSWERS),
        "snippet": rest,
    }
