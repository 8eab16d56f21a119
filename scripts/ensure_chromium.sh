#!/usr/bin/env bash
# Install Debian's chromium (for the browser tests) if /usr/bin/chromium is missing.
# Idempotent: does nothing when it is already there.
set -euo pipefail

CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
if [ -x "$CHROMIUM" ]; then
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    else
        echo "ensure_chromium: $CHROMIUM is missing and we are not root (no sudo)" >&2
        exit 1
    fi
fi

echo "ensure_chromium: installing Debian chromium (apt-get)..." >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq chromium >/dev/null
test -x "$CHROMIUM"
echo "ensure_chromium: $("$CHROMIUM" --version 2>/dev/null || echo installed)" >&2
