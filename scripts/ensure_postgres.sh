#!/usr/bin/env bash
# Make sure PostgreSQL answers on 127.0.0.1:5432 for the Postgres adapter tests (user
# postgres, trust auth), or say clearly why not. The tests never skip: without a reachable
# Postgres they fail. A stopped Debian cluster (pg_ctlcluster) is started; nothing is
# installed. Override the server with AIOSOCKETIO_TEST_POSTGRES (a libpq URL).
set -euo pipefail

URL="${AIOSOCKETIO_TEST_POSTGRES:-postgresql://postgres@127.0.0.1:5432/postgres}"
HOST=127.0.0.1
PORT="$(printf '%s' "$URL" | sed -n 's#^[a-z]*://[^/]*:\([0-9][0-9]*\)\(/.*\)\{0,1\}$#\1#p')"
PORT="${PORT:-5432}"

ready() {
    if command -v pg_isready >/dev/null 2>&1; then
        pg_isready -q -d "$URL" 2>/dev/null
    else
        (exec 3<>"/dev/tcp/$HOST/$PORT") 2>/dev/null
    fi
}

if ! ready && command -v pg_lsclusters >/dev/null 2>&1; then
    # pg_lsclusters: "15 main 5432 down postgres /var/lib/... /var/log/..."
    while read -r version cluster port status _; do
        if [ "$port" = "$PORT" ] && [ "$status" != "online" ]; then
            echo "ensure_postgres: starting the Debian cluster $version/$cluster" >&2
            pg_ctlcluster "$version" "$cluster" start || true
        fi
    done < <(pg_lsclusters --no-header 2>/dev/null || true)
    for _ in $(seq 1 50); do
        ready && break
        sleep 0.2
    done
fi

if ! ready; then
    echo "ensure_postgres: nothing answers at $URL: the Postgres adapter tests need a" >&2
    echo "ensure_postgres: PostgreSQL server there (user postgres, trust auth)" >&2
    exit 1
fi

if command -v psql >/dev/null 2>&1 && ! psql "$URL" -qAtc "SELECT 1" >/dev/null 2>&1; then
    echo "ensure_postgres: Postgres answers at $URL but refuses the tests' login:" >&2
    psql "$URL" -qAtc "SELECT 1" >&2 || true
    exit 1
fi
