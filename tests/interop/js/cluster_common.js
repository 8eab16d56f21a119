// Helpers shared by the cluster interop scripts: JSON <-> values with Buffers ({"$bin": hex}).
"use strict";

function revive(value) {
  if (Array.isArray(value)) return value.map(revive);
  if (value && typeof value === "object") {
    if (typeof value.$bin === "string" && Object.keys(value).length === 1) {
      return Buffer.from(value.$bin, "hex");
    }
    const out = {};
    for (const [k, v] of Object.entries(value)) out[k] = revive(v);
    return out;
  }
  return value;
}

function plain(value) {
  if (Buffer.isBuffer(value)) return { $bin: value.toString("hex") };
  if (value instanceof ArrayBuffer) return { $bin: Buffer.from(value).toString("hex") };
  if (ArrayBuffer.isView(value)) return { $bin: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString("hex") };
  if (value instanceof Set) return [...value].map(plain);
  if (Array.isArray(value)) return value.map(plain);
  if (value instanceof Date) return { $date: value.getTime() };
  if (value === undefined) return null;
  if (value && typeof value === "object") {
    const out = {};
    for (const [k, v] of Object.entries(value)) out[k] = plain(v);
    return out;
  }
  return value;
}

function print(obj) {
  process.stdout.write(JSON.stringify(plain(obj)) + "\n");
}

function onLines(handler) {
  let buf = "";
  process.stdin.setEncoding("utf8");
  process.stdin.on("data", (chunk) => {
    buf += chunk;
    let i;
    while ((i = buf.indexOf("\n")) >= 0) {
      const line = buf.slice(0, i).trim();
      buf = buf.slice(i + 1);
      if (line) {
        let msg;
        try {
          msg = revive(JSON.parse(line));
        } catch (e) {
          print({ error: "bad line: " + e.message });
          continue;
        }
        Promise.resolve()
          .then(() => handler(msg))
          .then(
            (result) => print({ id: msg.id, result: result === undefined ? null : result }),
            (err) => print({ id: msg.id, error: String(err && err.message ? err.message : err), responses: err && err.responses }),
          );
      }
    }
  });
  process.stdin.on("end", () => process.exit(0));
}

module.exports = { revive, plain, print, onLines };
