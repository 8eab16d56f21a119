#!/bin/sh
# Run N aiosocketio processes on ports BASE+1..BASE+N joined through Redis, behind nginx
# (ip_hash sticky sessions) listening on BASE. Ctrl-C stops everything.
#
#   examples/cluster/run_cluster.sh [N=3] [BASE=3000] [REDIS=redis://127.0.0.1:6379]
set -eu
N=${1:-3}
BASE=${2:-3000}
REDIS=${3:-redis://127.0.0.1:6379}
HERE=$(cd "$(dirname "$0")" && pwd)
PREFIX=$(mktemp -d)
UPSTREAMS=""
i=1
while [ "$i" -le "$N" ]; do
    UPSTREAMS="$UPSTREAMS server 127.0.0.1:$((BASE + i));"
    i=$((i + 1))
done
# one command, N worker processes on BASE+1 .. BASE+N
aiosocketio run app:sio --app-dir "$HERE" --host 127.0.0.1 --port "$((BASE + 1))" \
    --workers "$N" --port-per-worker --redis "$REDIS" &
PIDS=$!
sed -e "s#{{PREFIX}}#$PREFIX#g" -e "s#{{LISTEN}}#127.0.0.1:$BASE#g" \
    -e "s#{{UPSTREAMS}}#$UPSTREAMS#g" "$HERE/nginx.conf.template" > "$PREFIX/nginx.conf"
trap 'kill $PIDS 2>/dev/null; kill "$(cat "$PREFIX/nginx.pid")" 2>/dev/null; rm -rf "$PREFIX"' INT TERM EXIT
echo "nginx on http://127.0.0.1:$BASE -> $N aiosocketio processes"
nginx -p "$PREFIX" -c "$PREFIX/nginx.conf"
