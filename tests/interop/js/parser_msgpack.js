// Cross-check aiosocketio's msgpack parser with notepack.io, the msgpack library that
// the npm socket.io-msgpack-parser encodes packets with (one map {type, data, nsp, id}).
//
//   node parser_msgpack.js encode   -> one line per vector: {name, b64}
//   node parser_msgpack.js decode '<json list of base64>'
//                                   -> one line per input: {index, packet} (buffers as
//                                      {"$bin": base64}, undefined fields left out)
"use strict";

const notepack = require("notepack.io");

const buf = (...bytes) => Buffer.from(bytes);

const VECTORS = [
  ["connect", { type: 0, nsp: "/" }],
  ["connect auth", { type: 0, data: { token: "123" }, nsp: "/admin" }],
  ["disconnect", { type: 1, nsp: "/admin" }],
  ["event", { type: 2, data: ["hello", "world"], nsp: "/" }],
  ["event ack", { type: 2, data: ["foo", 1, -2, 3.5, true, null, { a: [] }], nsp: "/", id: 12 }],
  ["event binary", { type: 2, data: ["bin", buf(1, 2, 3), { b: buf() }], nsp: "/" }],
  ["event big ints", { type: 2, data: ["n", 255, 65536, 4294967296, -129, -40000], nsp: "/" }],
  ["event unicode", { type: 2, data: ["é€😀", "x".repeat(40), "y".repeat(300)], nsp: "/" }],
  ["ack", { type: 3, data: [], nsp: "/", id: 0 }],
  ["connect error", { type: 4, data: { message: "Not authorized" }, nsp: "/" }],
];

function revive(value) {
  if (Buffer.isBuffer(value) || ArrayBuffer.isView(value) || value instanceof ArrayBuffer) {
    return { $bin: Buffer.from(value).toString("base64") };
  }
  if (Array.isArray(value)) return value.map(revive);
  if (value && typeof value === "object") {
    const out = {};
    for (const key of Object.keys(value)) {
      if (value[key] !== undefined) out[key] = revive(value[key]);
    }
    return out;
  }
  return value;
}

const mode = process.argv[2] || "encode";
if (mode === "encode") {
  for (const [name, packet] of VECTORS) {
    console.log(JSON.stringify({ name, b64: notepack.encode(packet).toString("base64") }));
  }
} else if (mode === "decode") {
  JSON.parse(process.argv[3]).forEach((b64, index) => {
    const packet = notepack.decode(Buffer.from(b64, "base64"));
    console.log(JSON.stringify({ index, packet: revive(packet) }));
  });
} else {
  console.error("usage: parser_msgpack.js encode | decode '<json>'");
  process.exit(2);
}
