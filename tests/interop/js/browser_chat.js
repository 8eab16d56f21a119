// Drive the chat demo in headless Chromium (Debian's /usr/bin/chromium) with playwright-core.
//
// usage: node browser_chat.js <base-url> <screenshot.png>
//
// Prints one JSON line per step on stdout. The Python side (tests/browser/test_chat.py)
// restarts the server process in the middle, talking to us through stdin:
//   we print {"step":"ready_for_restart","how":...} -> it stops the server (how: "graceful" =
//                                           SIGTERM, "crash" = SIGKILL), sends {"cmd":"stopped"}
//   we print {"step":"reconnecting"}       -> it starts the server, sends {"cmd":"restarted"}
//   (twice), then {"done":true,...} at the end.
"use strict";

const readline = require("readline");
const { launchChromium } = require("./chromium");

const [baseUrl, screenshotPath] = process.argv.slice(2);
const STEP_TIMEOUT = 15000 * Number(process.env.AIOSOCKETIO_TEST_TIMEOUT_FACTOR || "1");

function out(obj) {
  process.stdout.write(JSON.stringify(obj) + "\n");
}

const commands = [];
let waiting = null;
readline.createInterface({ input: process.stdin }).on("line", (line) => {
  let msg;
  try {
    msg = JSON.parse(line);
  } catch {
    return;
  }
  if (waiting) {
    const resolve = waiting;
    waiting = null;
    resolve(msg);
  } else {
    commands.push(msg);
  }
});

function nextCommand() {
  if (commands.length) return Promise.resolve(commands.shift());
  return new Promise((resolve) => {
    waiting = resolve;
  });
}

async function expectCommand(name) {
  const msg = await nextCommand();
  if (msg.cmd !== name) throw new Error(`expected command ${name}, got ${JSON.stringify(msg)}`);
}

async function waitState(page, state) {
  await page.waitForSelector(`body[data-state="${state}"]`, { timeout: STEP_TIMEOUT });
}

async function statusText(page) {
  return page.textContent("#status-text");
}

async function send(page, text) {
  await page.fill("#input", text);
  await page.press("#input", "Enter");
  // The delivery receipt: the server acknowledged this message.
  const mine = page.locator("li.msg.mine", { hasText: text });
  await mine.waitFor({ timeout: STEP_TIMEOUT });
  await page.waitForFunction(
    (t) => [...document.querySelectorAll("li.msg.mine")].some(
      (li) => li.querySelector(".text").textContent === t && li.dataset.status === "delivered",
    ),
    text,
    { timeout: STEP_TIMEOUT },
  );
  return mine.locator(".receipt").textContent();
}

async function receive(page, from, text) {
  await page.waitForFunction(
    ([f, t]) => [...document.querySelectorAll("li.msg:not(.mine)")].some(
      (li) => li.dataset.from === f && li.querySelector(".text").textContent === t,
    ),
    [from, text],
    { timeout: STEP_TIMEOUT },
  );
}

async function roomCount(page, room) {
  return page.textContent(`#rooms li[data-room="${room}"] .count`);
}

async function waitRoomCount(page, room, count) {
  try {
    await page.waitForFunction(
      ([r, c]) => {
        const el = document.querySelector(`#rooms li[data-room="${r}"] .count`);
        return el !== null && el.textContent === String(c);
      },
      [room, count],
      { timeout: STEP_TIMEOUT },
    );
  } catch (err) {
    const shown = await page.evaluate(() => document.querySelector("#rooms").innerText);
    const log = await page.evaluate(() => (window.chatLog || []).join("\n"));
    throw new Error(`#${room} never showed ${count} members; rooms:\n${shown}\nlog:\n${log}`);
  }
}

async function chatBothWays(alice, bob, round) {
  const fromAlice = `hello bob, round ${round} (websocket)`;
  const receiptA = await send(alice, fromAlice);
  await receive(bob, "alice", fromAlice);
  const fromBob = `hi alice, round ${round} (polling)`;
  const receiptB = await send(bob, fromBob);
  await receive(alice, "bob", fromBob);
  return { receiptA, receiptB };
}

async function main() {
  const browser = await launchChromium();
  out({ step: "launched", version: browser.version() });
  const errors = [];
  try {
    // A nickname the server's middleware refuses (ConnectionRefused -> connect_error):
    // the page goes back to its login form with the server's message, and a good
    // nickname typed there gets in.
    const ctxC = await browser.newContext();
    const carol = await ctxC.newPage();
    carol.on("pageerror", (err) => errors.push(`carol: ${err.message}`));
    await carol.goto(`${baseUrl}/?nick=${"c".repeat(30)}`);
    await carol.waitForSelector("#login:not([hidden])", { timeout: STEP_TIMEOUT });
    await carol.waitForFunction(
      () => document.querySelector("#login-error").textContent.length > 0,
      null,
      { timeout: STEP_TIMEOUT },
    );
    const refused = await carol.textContent("#login-error");
    await carol.fill("#nickname", "carol");
    await carol.press("#nickname", "Enter");
    await waitState(carol, "connected");
    out({ step: "login", refused, me: await carol.textContent("#me") });
    // Carol leaves by disconnecting. Closing her tab alone would be noticed at once on
    // WebSocket, but on long-polling (before the upgrade) only by the heartbeat, 45 s
    // later -- as with Node -- which would leave her counted in #general below.
    await carol.evaluate(() => window.chatSocket.disconnect());
    await waitState(carol, "disconnected");
    await ctxC.close();

    const ctxA = await browser.newContext({ viewport: { width: 1100, height: 680 } });
    const ctxB = await browser.newContext({ viewport: { width: 900, height: 600 } });
    const alice = await ctxA.newPage();
    const bob = await ctxB.newPage();
    for (const [name, page] of [["alice", alice], ["bob", bob]]) {
      page.on("pageerror", (err) => errors.push(`${name}: ${err.message}`));
    }

    await alice.goto(`${baseUrl}/?nick=alice`);
    await bob.goto(`${baseUrl}/?nick=bob&transport=polling`);
    await waitState(alice, "connected");
    await waitState(bob, "connected");
    // Alice upgrades to WebSocket; Bob is forced to stay on HTTP long-polling.
    await alice.waitForSelector('body[data-transport="websocket"]', { timeout: STEP_TIMEOUT });
    const transports = {
      alice: await alice.evaluate(() => window.chatSocket.io.engine.transport.name),
      bob: await bob.evaluate(() => window.chatSocket.io.engine.transport.name),
    };
    await waitRoomCount(alice, "general", 2);
    await waitRoomCount(bob, "general", 2);
    out({ step: "connected", transports, status: await statusText(alice) });

    // Typing indicator: Bob sees that Alice types.
    await alice.type("#input", "hel", { delay: 20 });
    await bob.waitForFunction(
      () => document.querySelector("#typing").textContent.includes("alice is typing"),
      null,
      { timeout: STEP_TIMEOUT },
    );
    out({ step: "typing", text: await bob.textContent("#typing") });

    const round1 = await chatBothWays(alice, bob, 1);
    out({ step: "chatted", round: 1, ...round1 });

    // Switch rooms: the counts follow, and messages stay in their room.
    await bob.click('#rooms li[data-room="random"]');
    await waitRoomCount(alice, "random", 1);
    await waitRoomCount(alice, "general", 1);
    await bob.waitForSelector('#room-title:text("# random")', { timeout: STEP_TIMEOUT });
    await send(bob, "only in #random");
    await bob.click('#rooms li[data-room="general"]');
    await waitRoomCount(alice, "general", 2);
    // Back in #general, Bob's page shows the room's recent history from the server.
    await receive(bob, "alice", "hello bob, round 1 (websocket)");
    const leaked = await alice.evaluate(() =>
      [...document.querySelectorAll("li.msg .text")].some((el) => el.textContent === "only in #random"),
    );
    out({ step: "rooms", general: await roomCount(bob, "general"), leaked });

    // The server process goes away twice and comes back on the same port: first a graceful
    // restart (SIGTERM: the server says goodbye), then a crash (SIGKILL: it just vanishes).
    // Both pages come back by themselves each time and keep chatting.
    for (const [round, how] of [[2, "graceful"], [3, "crash"]]) {
      out({ step: "ready_for_restart", how });
      await expectCommand("stopped");
      await waitState(alice, "reconnecting");
      await waitState(bob, "reconnecting");
      for (const page of [alice, bob]) {
        await page.waitForFunction(
          () => /attempt \d+/.test(document.querySelector("#status-text").textContent),
          null,
          { timeout: STEP_TIMEOUT },
        );
      }
      out({ step: "reconnecting", alice: await statusText(alice), bob: await statusText(bob) });

      await expectCommand("restarted");
      await waitState(alice, "connected");
      await waitState(bob, "connected");
      await waitRoomCount(alice, "general", 2);
      await waitRoomCount(bob, "general", 2);
      const after = {
        alice: await alice.evaluate(() => window.chatSocket.io.engine.transport.name),
        bob: await bob.evaluate(() => window.chatSocket.io.engine.transport.name),
      };
      out({ step: "reconnected", how, transports: after });

      const again = await chatBothWays(alice, bob, round);
      out({ step: "chatted", round, ...again });
    }

    await bob.type("#input", "see you", { delay: 20 });
    await alice.waitForFunction(
      () => document.querySelector("#typing").textContent.includes("bob is typing"),
      null,
      { timeout: STEP_TIMEOUT },
    );
    if (screenshotPath) await alice.screenshot({ path: screenshotPath });
    out({ done: true, errors, screenshot: screenshotPath || null });
  } finally {
    await browser.close();
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    out({ error: String((err && err.stack) || err) });
    process.exit(1);
  },
);
