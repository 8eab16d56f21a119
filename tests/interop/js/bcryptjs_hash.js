// Hash a password with bcryptjs, the library @socket.io/admin-ui's own instrument() uses.
//   node bcryptjs_hash.js <password> <rounds>  -> {"hash": "$2a$..."}
"use strict";
const bcrypt = require("bcryptjs");

const [password, rounds] = process.argv.slice(2);
process.stdout.write(JSON.stringify({ hash: bcrypt.hashSync(password, Number(rounds)) }) + "\n");
