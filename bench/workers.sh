#!/usr/bin/env bash
# Messages/s with 1 and 2 workers (--workers N, SO_REUSEPORT), S1 and S2 shapes, alternating.
# The server is not pinned (it needs every core); the load generator runs on CPU 0.
# usage: bash bench/workers.sh   (env: ROUNDS=2 DURATION=4 PORT=9341 WSLOAD_DIR=../shared/tools/wsload)
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-2} DURATION=${DURATION:-4} PORT=${PORT:-9341}
WSLOAD_DIR=${WSLOAD_DIR:-../shared/tools/wsload}
make -s -C "$WSLOAD_DIR" wsload >/dev/null
server=""
stop() { [ -n "$server" ] && kill -TERM "$server" 2>/dev/null && wait "$server" 2>/dev/null; server=""; }
trap stop EXIT
for round in $(seq 1 "$ROUNDS"); do
  for workers in 1 2; do
    deno run --unstable-net --allow-net --allow-env --allow-read=src src/runtime/deno/main.ts \
      --host 127.0.0.1 --port "$PORT" --workers "$workers" --log-level warn >/dev/null 2>&1 &
    server=$!
    for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.1; done
    for pipeline in 1 16; do
      line=$(taskset -c 0 "$WSLOAD_DIR/wsload" -p "$PORT" -c 100 -s 20 --text -k "$pipeline" \
        -d "$DURATION" -w 1 -q | tail -1)
      printf 'round %s  workers %s  pipeline %-2s  %s  %s\n' "$round" "$workers" "$pipeline" \
        "$(grep -o 'msgs_per_s=[^ ]*' <<<"$line")" "$(grep -o ' errors=[^ ]*' <<<"$line")"
    done
    stop
    sleep 0.5
  done
done
