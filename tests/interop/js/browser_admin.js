// Drive the official Socket.IO Admin UI (@socket.io/admin-ui's static ui/dist, served here on
// loopback) in headless Chromium against the servers of a test, with official
// socket.io-client clients connected to them.
//
// usage: node browser_admin.js '<config json>'
//   config: {"servers": [url...]       the servers; clients a<i> (WebSocket) and b<i>
//                                       (polling) join room "lobby" on each, c0 is on "/chat"
//            "serverIds": [id...]       the ids the Servers page must list
//            "password": "..."          the admin password (user "admin")
//            "screenshot": "path.png"   the dashboard, saved at the end (optional)}
// The UI logs in to servers[0]. It joins a<last> to room "vip" and disconnects b<last> from
// its socket page and disconnects b<last> from the Sockets page. Prints one JSON line per step; {"done": true} at the end.
"use strict";

const fs = require("fs");
const http = require("http");
const path = require("path");
const { io } = require("socket.io-client");
const { launchChromium } = require("./chromium");

const cfg = JSON.parse(process.argv[2]);
const UI_DIST = path.join(path.dirname(require.resolve("@socket.io/admin-ui/package.json")), "ui", "dist");
const STEP_TIMEOUT = 20000 * Number(process.env.AIOSOCKETIO_TEST_TIMEOUT_FACTOR || "1");
const TYPES = { ".html": "text/html", ".js": "text/javascript", ".css": "text/css", ".png": "image/png" };

function out(obj) {
  process.stdout.write(JSON.stringify(obj) + "\n");
}

function serveUi() {
  const server = http.createServer((req, res) => {
    let file = decodeURIComponent(new URL(req.url, "http://ui").pathname);
    if (file === "/") file = "/index.html";
    const full = path.join(UI_DIST, path.normalize(file));
    if (!full.startsWith(UI_DIST + path.sep) || !fs.existsSync(full) || fs.statSync(full).isDirectory()) {
      res.writeHead(404);
      res.end();
      return;
    }
    res.writeHead(200, { "content-type": TYPES[path.extname(full)] || "application/octet-stream" });
    fs.createReadStream(full).pipe(res);
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

function connect(url, opts) {
  const socket = io(url, { reconnection: false, ...opts });
  return new Promise((resolve, reject) => {
    socket.once("connect", () => resolve(socket));
    socket.once("connect_error", reject);
  });
}

async function rowsOf(page) {
  return page.$$eval(".v-main tbody tr", (trs) =>
    trs.map((tr) => [...tr.querySelectorAll("td")].map((td) => td.textContent.trim())),
  );
}

async function waitRows(page, predicate, arg) {
  await page.waitForFunction(
    ([src, a]) => {
      const rows = [...document.querySelectorAll(".v-main tbody tr")].map((tr) =>
        [...tr.querySelectorAll("td")].map((td) => td.textContent.trim()),
      );
      return new Function("rows", "arg", src)(rows, a);
    },
    [predicate, arg],
    { timeout: STEP_TIMEOUT },
  );
  return rowsOf(page);
}

async function login(page, url, password) {
  await page.getByLabel("Server URL").fill(url);
  await page.getByLabel("Username").fill("admin");
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Connect" }).click();
}

async function main() {
  const ui = await serveUi();
  const uiUrl = `http://127.0.0.1:${ui.address().port}/`;
  const clients = {};
  for (const [i, url] of cfg.servers.entries()) {
    clients[`a${i}`] = await connect(url, { auth: { room: "lobby", name: `a${i}` } });
    clients[`b${i}`] = await connect(url, { auth: { room: "lobby", name: `b${i}` }, transports: ["polling"] });
  }
  clients.c0 = await connect(cfg.servers[0] + "/chat", {});
  const ids = Object.fromEntries(Object.entries(clients).map(([k, s]) => [k, s.id]));
  out({ step: "clients", ids });

  const browser = await launchChromium();
  const errors = [];
  try {
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    // the page asks for web fonts and icons on CDNs: nothing leaves loopback
    await page.route(/^https?:\/\/(?!127\.0\.0\.1[:/])/, (route) => route.abort());
    page.on("pageerror", (e) => errors.push(String(e)));
    await page.goto(uiUrl, { waitUntil: "domcontentloaded" });

    // a wrong password first: the modal says so
    await login(page, cfg.servers[0], "not the password");
    await page.getByText("Invalid credentials").waitFor({ timeout: STEP_TIMEOUT });
    out({ step: "refused" });
    await login(page, cfg.servers[0], cfg.password);
    await page.locator(".v-chip", { hasText: /^connected$/i }).first().waitFor({ timeout: STEP_TIMEOUT });
    out({ step: "login" });

    // the dashboard's Namespaces card, once the first server_stats arrived
    const namespaces = await waitRows(page, "return rows.some((r) => r[0] === '/chat')");
    out({ step: "dashboard", namespaces: namespaces.filter((r) => r.length === 2 && r[0].startsWith("/")) });

    await page.goto(uiUrl + "#/servers/");
    const servers = await waitRows(
      page,
      "return arg.every((id) => rows.some((r) => r[0] === id && /healthy/i.test(r[6] || '')))",
      cfg.serverIds,
    );
    out({ step: "servers", rows: servers.filter((r) => r.length >= 7) });

    await page.goto(uiUrl + "#/sockets/");
    const wanted = cfg.servers.flatMap((_, i) => [ids[`a${i}`], ids[`b${i}`]]);
    const sockets = await waitRows(page, "return arg.every((id) => rows.some((r) => r[0] === id))", wanted);
    out({ step: "sockets", rows: sockets.filter((r) => r.length >= 3).map((r) => r.slice(0, 3)) });

    await page.goto(uiUrl + "#/rooms/");
    const rooms = await waitRows(page, "return rows.some((r) => r[0] === 'lobby')");
    out({ step: "rooms", rows: rooms.filter((r) => r.length >= 3).map((r) => r.slice(0, 3)) });

    // join a room from the socket's page (the last server's WebSocket client)
    const last = cfg.servers.length - 1;
    const joiner = ids[`a${last}`];
    await page.goto(uiUrl + `#/n/${encodeURIComponent("/")}/sockets/${joiner}`);
    await page.locator(".v-main td", { hasText: joiner }).first().waitFor({ timeout: STEP_TIMEOUT });
    await page.getByLabel("Join a room").fill("vip");
    await page.locator("form button:has(i.mdi-tag-plus-outline)").click();
    const afterJoin = await waitRows(page, "return rows.some((r) => r[0] === 'vip')");
    out({ step: "joined", socket: joiner, rooms: afterJoin.filter((r) => r.length === 2).map((r) => r[0]) });

    // disconnect a socket from the Sockets page (its row's "disconnect" button)
    const victim = clients[`b${last}`];
    const victimId = victim.id;
    const reason = new Promise((resolve) => victim.once("disconnect", resolve));
    await page.goto(uiUrl + "#/sockets/");
    await page.locator(".v-main tr", { hasText: victimId }).locator("button:has(i.mdi-logout)").click({ timeout: STEP_TIMEOUT });
    out({ step: "disconnected", socket: victimId, reason: await withTimeout(reason, "disconnect") });
    // the row's click opens the socket's page too: it shows the socket disconnected once
    // the server reported socket_disconnected
    await page.locator(".v-main tr", { hasText: victimId }).first().waitFor({ timeout: STEP_TIMEOUT });
    await page.locator(".v-main .v-chip", { hasText: /^disconnected$/i }).first().waitFor({ timeout: STEP_TIMEOUT });
    out({ step: "shown_disconnected", socket: victimId });

    await page.goto(uiUrl + "#/");
    await page.waitForTimeout(2500); // one more server_stats for the charts
    if (cfg.screenshot) await page.screenshot({ path: cfg.screenshot });
  } finally {
    await browser.close();
    for (const s of Object.values(clients)) s.disconnect();
    ui.close();
  }
  out({ done: true, errors });
}

function withTimeout(promise, what) {
  return Promise.race([
    promise,
    new Promise((_, reject) => setTimeout(() => reject(new Error(`timeout: ${what}`)), STEP_TIMEOUT)),
  ]);
}

main().then(
  () => process.exit(0),
  (err) => {
    out({ error: String(err && err.stack ? err.stack : err) });
    process.exit(1);
  },
);
