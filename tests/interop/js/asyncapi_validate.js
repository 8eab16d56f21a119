// Parses an AsyncAPI document with the official parser (@asyncapi/parser) and prints what it
// found: {"diagnostics": [...errors and warnings...], "channels", "operations", "messages"}.
//
//   node asyncapi_validate.js <document.json>
"use strict";

const fs = require("node:fs");
const { Parser } = require("@asyncapi/parser");

async function main() {
  const text = fs.readFileSync(process.argv[2], "utf8");
  const parser = new Parser();
  const { document, diagnostics } = await parser.parse(text);
  const severities = ["error", "warning", "info", "hint"];
  const out = {
    diagnostics: diagnostics.map((d) => ({
      severity: severities[d.severity] ?? String(d.severity),
      code: d.code,
      message: d.message,
      path: d.path.join("."),
    })),
    parsed: document !== undefined,
  };
  if (document) {
    out.version = document.version();
    out.channels = document.channels().all().map((c) => ({ id: c.id(), address: c.address() }));
    out.operations = document
      .operations()
      .all()
      .map((o) => ({
        id: o.id(),
        action: o.action(),
        messages: o.messages().all().map((m) => m.name()),
        reply: o.reply() ? o.reply().messages().all().map((m) => m.name()) : null,
      }));
  }
  process.stdout.write(JSON.stringify(out) + "\n");
}

main().catch((err) => {
  process.stdout.write(JSON.stringify({ failed: String(err && err.stack ? err.stack : err) }) + "\n");
  process.exit(1);
});
