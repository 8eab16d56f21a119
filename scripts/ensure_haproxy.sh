#!/usr/bin/env bash
# Install Debian's haproxy (for the sticky load-balancer tests, tests/cluster/) if it is
# missing. Idempotent: does nothing when it is already there.
set -euo pipefail

HAPROXY="${HAPROXY:-/usr/sbin/haproxy}"
if [ -x "$HAPROXY" ] || command -v haproxy >/dev/null 2>&1; then
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    else
        echo "ensure_haproxy: haproxy is missing and we are not root (no sudo)" >&2
        exit 1
    fi
fi

echo "ensure_haproxy: installing Debian haproxy (apt-get)..." >&2
export DEBIAN_FRONTEND=noninteractive
# the package's service is not wanted: the tests start their own haproxy on loopback
$SUDO apt-get install -y -qq --no-install-recommends haproxy >/dev/null 2>&1 || {
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends haproxy >/dev/null
}
test -x "$HAPROXY"
echo "ensure_haproxy: $("$HAPROXY" -v 2>/dev/null | head -1 || echo installed)" >&2
