#!/usr/bin/env bash
# bench/partial.sh — many large partial messages (deno task bench:partial).
#
# For each N in COUNTS, a fresh wsecho (default flags, plus WSECHO_ARGS) gets N clients that each
# send DECLARED_SENT bytes of a DECLARED-byte message (one frame) and stall for HOLD seconds, then
# leave (bench/partial_client.ts). Server VmRSS is sampled every 100 ms. Reported per N: RSS of
# the fresh server, peak growth over it, growth AFTER seconds after the clients left, how many
# connections were held to the end and how many were closed 1013, and whether the server still
# echoes afterwards. Goal (issue 11): peak growth under 256 MiB, and under +128 MiB afterwards.
# Logs: bench/results/partial-<UTC time>/ (gitignored).
#
# env: COUNTS ("30 60 120"), DECLARED (16m), SENT (8m), HOLD (5), AFTER (10), PORT_BASE (9600),
#   SERVER_CPU (1), LOAD_CPU (0), DENO, WSECHO_ARGS, WSECHO_REV (a commit to run instead of the tree)
set -euo pipefail

# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

COUNTS="${COUNTS:-30 60 120}" DECLARED="${DECLARED:-16m}" SENT="${SENT:-8m}"
HOLD="${HOLD:-5}" AFTER="${AFTER:-10}" PORT_BASE="${PORT_BASE:-9600}"
for v in HOLD AFTER PORT_BASE; do
  [[ "${!v}" =~ ^[0-9]+$ ]] || { echo "partial.sh: $v must be a whole number" >&2; exit 2; }
done
for n in $COUNTS; do
  [[ "$n" =~ ^[0-9]+$ ]] && [ "$n" -ge 1 ] && [ "$n" -le 1000 ] ||
    { echo "partial.sh: COUNTS must be numbers 1..1000" >&2; exit 2; }
done
[ "$HOLD" -le 120 ] && [ "$AFTER" -le 120 ] || { echo "partial.sh: HOLD, AFTER <= 120" >&2; exit 2; }

ensure_wsload
OUT="$ROOT/bench/results/partial-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$OUT"
SAMPLER_PID=""
on_exit() {
  [ -z "$SAMPLER_PID" ] || kill "$SAMPLER_PID" 2>/dev/null || true
  bench_cleanup
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

setup_commands >"$OUT/setup.txt" # (not in the pipe below: it sets WSECHO_CMD)
{
  echo "wsecho partial-message memory benchmark, $(date -u +%FT%TZ), $(uname -r), $(nproc) CPUs"
  cat "$OUT/setup.txt"
  echo "deno: $("$DENO" --version | head -1); N in {$COUNTS}; $SENT of $DECLARED each," \
    "held ${HOLD}s; RSS read ${AFTER}s after they leave; logs in $OUT"
  echo "other_cpu (load average before): $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$OUT/header.txt"

# sampler PID FILE — "VmRSS_kB" every 100 ms until FILE.stop exists or the process is gone.
sampler() {
  local pid="$1" file="$2" rss
  for ((i = 0; i < 6000; i++)); do
    [ -e "$file.stop" ] && break
    rss=$(status_kb "$pid" VmRSS) || break
    [ -n "$rss" ] || break
    echo "$rss" >>"$file"
    sleep 0.1
  done
}

# still_echoes PORT — one connection, 1 s of 1 KiB binary echoes.
still_echoes() {
  local line
  line=$(timeout 30 taskset -c "$LOAD_CPU" "$WSLOAD" -p "$1" -c 1 -s 1024 --binary -d 1 -w 0 -q 2>&1 |
    grep '^wsload mode=' | tail -1) || true
  local m e
  m=$(field "$line" msgs_per_s) e=$(field "$line" errors)
  if [ -n "$line" ] && [ "${e:-1}" = 0 ] && awk -v m="$m" 'BEGIN { exit !(m > 0) }'; then
    echo "yes"
  else
    echo "NO"
  fi
}

k=0
for n in $COUNTS; do
  k=$((k + 1))
  port=$((PORT_BASE + k))
  log="$OUT/n$n"
  start_server "$log.server.log" "$port" "${WSECHO_CMD[@]}" || continue
  pid="$SRV_PID" pgid="$SRV_PGID"
  sleep 2
  before=$(status_kb "$pid" VmRSS)
  sampler "$pid" "$log.samples" &
  SAMPLER_PID=$!
  timeout 200 taskset -c "$LOAD_CPU" "$DENO" run --allow-net=127.0.0.1 "$BENCH_DIR/partial_client.ts" \
    --port "$port" --clients "$n" --declared "$DECLARED" --sent "$SENT" --hold "$HOLD" \
    >"$log.client.txt" 2>&1 || echo "  (client exit status $?: $(tail -1 "$log.client.txt"))"
  sleep "$AFTER"
  after=$(status_kb "$pid" VmRSS)
  touch "$log.samples.stop"
  wait "$SAMPLER_PID" 2>/dev/null || true
  SAMPLER_PID=""
  peak=$(awk '$1 > m { m = $1 } END { print m + 0 }' "$log.samples")
  cl=$(grep '^partial_client ' "$log.client.txt" | tail -1 || true)
  alive=NO
  if kill -0 "$pid" 2>/dev/null; then alive=$(still_echoes "$port"); fi
  stop_group "$pgid"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$n" "$before" "$peak" "${after:-0}" \
    "$(field "$cl" held)" "$(field "$cl" closed_1013)" "$(field "$cl" other)" "$alive" >>"$OUT/partial.tsv"
  echo "  N=$n: $cl; VmRSS $before KiB, peak $peak KiB, ${after:--} KiB ${AFTER}s after; echoes: $alive"
done

{
  echo
  echo "| N clients | fresh RSS | peak growth | growth ${AFTER} s after they leave | held to the end | closed 1013 | other | still echoes |"
  echo "| --------- | --------- | ----------- | ------------------------------- | --------------- | ----------- | ----- | ------------ |"
  awk -F'\t' '{ printf "| %s | %.1f MiB | +%.1f MiB | %+.1f MiB | %s | %s | %s | %s |\n",
    $1, $2 / 1024, ($3 - $2) / 1024, ($4 - $2) / 1024, $5, $6, $7, $8 }' "$OUT/partial.tsv"
  echo "other_cpu (load average after): $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "logs: $OUT"
} | tee "$OUT/summary.txt"
