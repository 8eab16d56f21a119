#!/usr/bin/env bash
# Make sure a Redis server answers on 127.0.0.1:6379 (the cluster tests and `--redis`).
# If nothing answers PONG, start a throw-away one (no persistence); install
# redis-server with apt when the binary is missing. Idempotent.
set -euo pipefail

HOST=127.0.0.1
PORT="${REDIS_PORT:-6379}"

ping_redis() {
    if command -v redis-cli >/dev/null 2>&1; then
        [ "$(redis-cli -h "$HOST" -p "$PORT" ping 2>/dev/null || true)" = "PONG" ]
    else
        # No redis-cli yet: speak RESP by hand through bash's /dev/tcp.
        local reply
        reply="$( (exec 3<>"/dev/tcp/$HOST/$PORT" && printf 'PING\r\n' >&3 &&
            timeout 2 head -c 7 <&3) 2>/dev/null || true)"
        [ "${reply%$'\r'*}" = "+PONG" ]
    fi
}

# The Redis Cluster tests start redis-server and redis-cli --cluster themselves: the
# binaries are needed even when a Redis already answers.
if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null 2>&1 || { echo "ensure_redis: need root to install redis-server" >&2; exit 1; }
        SUDO="sudo"
    fi
    echo "ensure_redis: installing redis-server (apt-get)..." >&2
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends redis-server redis-tools >/dev/null
fi

if ping_redis; then
    exit 0
fi

echo "ensure_redis: starting redis-server on $HOST:$PORT" >&2
redis-server --daemonize yes --bind "$HOST" --port "$PORT" --save "" --appendonly no >/dev/null

for _ in $(seq 1 100); do
    if ping_redis; then
        exit 0
    fi
    sleep 0.1
done
echo "ensure_redis: redis-server did not answer on $HOST:$PORT" >&2
exit 1
