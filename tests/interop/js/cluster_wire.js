// notepack.io golden bytes: argv[2] is a JSON list (or a file holding it) of {"encode": value} or {"decode": hex}.
// Prints one line per case: {"hex": ...} or {"value": ...} ({"$bin": hex} marks a Buffer).
"use strict";
const notepack = require("notepack.io");
const { revive, print } = require("./cluster_common");

const fs = require("fs");
const arg = process.argv[2];
const cases = JSON.parse(arg.startsWith("[") ? arg : fs.readFileSync(arg, "utf8"));
for (const c of cases) {
  try {
    if ("encode" in c) {
      let value = revive(c.encode);
      if (c.float !== undefined) value = c.float;
      print({ hex: notepack.encode(value).toString("hex") });
    } else {
      print({ value: notepack.decode(Buffer.from(c.decode, "hex")) });
    }
  } catch (e) {
    print({ error: e.message });
  }
}
