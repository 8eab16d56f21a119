// Cross-check aiosocketio's Socket.IO codec against the npm socket.io-parser that
// socket.io 4.8 ships with.
//
//   node parser_vectors.js encode
//     prints one JSON line per packet in VECTORS: {name, parts}, where each part is
//     {"text": "..."} or {"b64": "..."} (an attachment).
//   node parser_vectors.js decode '<json>'
//     <json> is a list of inputs, each a list of parts as above; prints one line per
//     input: {index, ok, packet?, error?}. Buffers in the decoded packet come back
//     as {"$bin": "<base64>"}.
"use strict";

const { Encoder, Decoder, PacketType } = require("socket.io-parser");

const buf = (...bytes) => Buffer.from(bytes);

const VECTORS = [
  ["connect main", { type: PacketType.CONNECT, nsp: "/" }],
  ["connect admin with auth", { type: PacketType.CONNECT, nsp: "/admin", data: { token: "x" } }],
  ["connect reply", { type: PacketType.CONNECT, nsp: "/", data: { sid: "oSO0OpakMV_3jnilAAAA" } }],
  ["disconnect main", { type: PacketType.DISCONNECT, nsp: "/" }],
  ["disconnect admin", { type: PacketType.DISCONNECT, nsp: "/admin" }],
  ["event", { type: PacketType.EVENT, nsp: "/", data: ["hello", "world"] }],
  ["event numbers", { type: PacketType.EVENT, nsp: "/", data: ["n", 1, -2, 3.5, 0.1, 123456789012, true, null] }],
  ["event unicode", { type: PacketType.EVENT, nsp: "/", data: ["é", "€ ✓ 😀", "\u0000\u001f\"\\/"] }],
  ["event nested", { type: PacketType.EVENT, nsp: "/admin", data: ["x", { a: [1, { b: {} }], c: [] }] }],
  ["event with ack", { type: PacketType.EVENT, nsp: "/", data: ["foo"], id: 12 }],
  ["event ns ack", { type: PacketType.EVENT, nsp: "/admin", data: ["foo"], id: 0 }],
  ["event numeric name", { type: PacketType.EVENT, nsp: "/", data: [42, "x"] }],
  ["ack", { type: PacketType.ACK, nsp: "/", data: [], id: 12 }],
  ["ack ns", { type: PacketType.ACK, nsp: "/admin", data: ["bar"], id: 13 }],
  ["connect error", { type: PacketType.CONNECT_ERROR, nsp: "/", data: { message: "Not authorized" } }],
  [
    "connect error with data",
    { type: PacketType.CONNECT_ERROR, nsp: "/admin", data: { message: "no", data: { code: 7 } } },
  ],
  ["binary event", { type: PacketType.EVENT, nsp: "/", data: ["baz", buf(1, 2, 3, 4)] }],
  [
    "binary event two attachments",
    { type: PacketType.EVENT, nsp: "/admin", data: ["baz", buf(1, 2), buf(3, 4)] },
  ],
  [
    "binary nested",
    {
      type: PacketType.EVENT,
      nsp: "/",
      data: ["deep", { a: [buf(0), { b: buf(255, 254) }], c: "x" }, [buf()]],
      id: 7,
    },
  ],
  ["binary ack", { type: PacketType.ACK, nsp: "/", data: ["bar", buf(1, 2, 3, 4)], id: 15 }],
  ["binary ack ns", { type: PacketType.ACK, nsp: "/admin", data: [buf(9)], id: 1 }],
];

function toParts(encoded) {
  return encoded.map((p) =>
    typeof p === "string" ? { text: p } : { b64: Buffer.from(p).toString("base64") }
  );
}

function revive(value) {
  if (Buffer.isBuffer(value) || value instanceof ArrayBuffer || ArrayBuffer.isView(value)) {
    return { $bin: Buffer.from(value).toString("base64") };
  }
  if (Array.isArray(value)) return value.map(revive);
  if (value && typeof value === "object") {
    const out = {};
    for (const key of Object.keys(value)) out[key] = revive(value[key]);
    return out;
  }
  return value;
}

function encodeAll() {
  const encoder = new Encoder();
  for (const [name, packet] of VECTORS) {
    console.log(JSON.stringify({ name, parts: toParts(encoder.encode(packet)) }));
  }
}

function decodeAll(inputs) {
  inputs.forEach((parts, index) => {
    const decoder = new Decoder();
    let decoded = null;
    decoder.on("decoded", (packet) => {
      decoded = packet;
    });
    try {
      for (const part of parts) {
        decoder.add(part.text !== undefined ? part.text : Buffer.from(part.b64, "base64"));
      }
      if (decoded === null) {
        console.log(JSON.stringify({ index, ok: false, error: "incomplete" }));
      } else {
        const packet = revive({
          type: decoded.type,
          nsp: decoded.nsp,
          data: decoded.data === undefined ? null : decoded.data,
          id: decoded.id === undefined ? null : decoded.id,
        });
        console.log(JSON.stringify({ index, ok: true, packet }));
      }
    } catch (err) {
      console.log(JSON.stringify({ index, ok: false, error: String(err && err.message) }));
    }
  });
}

const mode = process.argv[2] || "encode";
if (mode === "encode") {
  encodeAll();
} else if (mode === "decode") {
  decodeAll(JSON.parse(process.argv[3]));
} else {
  console.error("usage: parser_vectors.js encode | decode '<json>'");
  process.exit(2);
}
