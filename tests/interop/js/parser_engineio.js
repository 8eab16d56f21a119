// Cross-check aiosocketio's Engine.IO packet codec with the npm engine.io-parser 5.2 that
// engine.io 6.6 and engine.io-client 6.6 use.
//
//   node parser_engineio.js encode
//     one line per vector: {name, payload, ws: [{text}|{b64}]} where payload is the
//     polling payload (encodePayload) and ws the WebSocket form of each packet
//     (encodePacket with binary support).
//   node parser_engineio.js decode '<json list of payload strings>'
//     one line per input: {index, packets: [{type, text}|{type, b64}]}
"use strict";

const { encodePacket, encodePayload, decodePayload } = require("engine.io-parser");

const buf = (...bytes) => Buffer.from(bytes);

const VECTORS = [
  ["spec text", [{ type: "message", data: "hello" }, { type: "ping" }, { type: "message", data: "world" }]],
  ["spec binary", [{ type: "message", data: "hello" }, { type: "message", data: buf(1, 2, 3, 4) }]],
  ["probe", [{ type: "ping", data: "probe" }, { type: "pong", data: "probe" }]],
  ["all types", ["open", "close", "ping", "pong", "upgrade", "noop"].map((type) => ({ type }))],
  ["unicode", [{ type: "message", data: "€ ✓ 😀 é" }, { type: "message", data: "" }]],
  ["binary sizes", [{ type: "message", data: buf() }, { type: "message", data: buf(255) }, { type: "message", data: Buffer.alloc(100, 7) }]],
  ["socket.io", [{ type: "message", data: '0{"sid":"x"}' }, { type: "message", data: '451-["a",{"_placeholder":true,"num":0}]' }, { type: "message", data: buf(0, 1) }]],
];

function wsForm(packet) {
  return new Promise((resolve) => {
    encodePacket(packet, true, (encoded) => {
      resolve(
        typeof encoded === "string"
          ? { text: encoded }
          : { b64: Buffer.from(encoded).toString("base64") }
      );
    });
  });
}

async function encodeAll() {
  for (const [name, packets] of VECTORS) {
    const payload = await new Promise((resolve) => encodePayload(packets, resolve));
    const ws = [];
    for (const packet of packets) ws.push(await wsForm(packet));
    console.log(JSON.stringify({ name, payload, ws }));
  }
}

function decodeAll(payloads) {
  payloads.forEach((payload, index) => {
    const packets = decodePayload(payload, "nodebuffer").map((p) =>
      typeof p.data === "string" || p.data === undefined
        ? { type: p.type, text: p.data === undefined ? null : p.data }
        : { type: p.type, b64: Buffer.from(p.data).toString("base64") }
    );
    console.log(JSON.stringify({ index, packets }));
  });
}

const mode = process.argv[2] || "encode";
if (mode === "encode") {
  encodeAll();
} else if (mode === "decode") {
  decodeAll(JSON.parse(process.argv[3]));
} else {
  console.error("usage: parser_engineio.js encode | decode '<json>'");
  process.exit(2);
}
