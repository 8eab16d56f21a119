// engine.io-parser 2.x (the one socket.io-client 2.5.0 ships) on Engine.IO v3 payloads.
//   node parser_engineio_v3.js encode   -> one JSON line per vector: {name, payload}
//   node parser_engineio_v3.js decode '<json list of payload strings>'
//   node parser_engineio_v3.js encode-binary -> {name, b64}: the binary payload format
//   node parser_engineio_v3.js decode-binary '<json list of base64>'
//                                       -> one JSON line per input: {index, packets}
//                                          (binary data as {"$bin": base64}; error packets kept)
"use strict";
const path = require("path");
const parser = require(path.join(
  path.dirname(require.resolve("socket.io-client-v2/package.json")),
  "node_modules/engine.io-parser"
));

const VECTORS = [
  ["message", [{ type: "message", data: "2[\"hi\"]" }]],
  ["several", [{ type: "message", data: "0" }, { type: "ping", data: "probe" }, { type: "pong" }, { type: "noop" }]],
  ["unicode", [{ type: "message", data: "2[\"é😀€\"]" }, { type: "message", data: "x".repeat(300) }]],
  ["binary", [{ type: "message", data: Buffer.from([0, 1, 255]) }, { type: "message", data: "1" }]],
  ["empty", []],
];

const show = (packet) => ({
  type: packet.type,
  data: Buffer.isBuffer(packet.data) ? { $bin: packet.data.toString("base64") } : packet.data,
});

if (process.argv[2] === "encode-binary") {
  for (const [name, packets] of VECTORS) {
    if (!packets.length) continue;
    parser.encodePayloadAsBinary(packets, (payload) =>
      process.stdout.write(JSON.stringify({ name, b64: payload.toString("base64") }) + "\n"));
  }
} else if (process.argv[2] === "decode-binary") {
  JSON.parse(process.argv[3]).forEach((b64, index) => {
    const packets = [];
    parser.decodePayload(Buffer.from(b64, "base64"), (packet) => { packets.push(show(packet)); });
    process.stdout.write(JSON.stringify({ index, packets }) + "\n");
  });
} else if (process.argv[2] === "encode") {
  for (const [name, packets] of VECTORS) {
    parser.encodePayload(packets, false, (payload) => process.stdout.write(JSON.stringify({ name, payload }) + "\n"));
  }
} else {
  JSON.parse(process.argv[3]).forEach((payload, index) => {
    const packets = [];
    parser.decodePayload(payload, (packet) => { packets.push(show(packet)); });
    process.stdout.write(JSON.stringify({ index, packets }) + "\n");
  });
}
