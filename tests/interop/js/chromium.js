// Launch Debian's Chromium headless through playwright-core, the way every browser test
// here does (`npx playwright install` cannot download browsers on this machine).
"use strict";

const { chromium } = require("playwright-core");

const ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-dev-shm-usage",
  "--disable-quic",
  "--no-first-run",
  "--disable-component-update",
  "--disable-sync",
];

function launchChromium() {
  return chromium.launch({ executablePath: "/usr/bin/chromium", headless: true, args: ARGS });
}

module.exports = { launchChromium };
