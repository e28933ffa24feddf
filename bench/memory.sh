#!/usr/bin/env bash
# bench/memory.sh — server memory under two adversarial loads (deno task bench:memory).
#
# (a) idle: a fresh server holds CONNS idle WebSocket connections (wsload --connect-only) for HOLD
#     seconds -> server RSS per connection = (VmRSS held - VmRSS before) / CONNS.
# (b) no-read: a fresh server gets one client (bench/no_read_client.ts) that sends TOTAL bytes of
#     masked binary MSG_SIZE-byte messages and never reads. wsecho should stop reading once
#     MAX_BACKPRESSURE (default 1 MiB) of echoes are queued, so the client's writes stall (the
#     expected outcome). VmRSS/VmHWM of the server are sampled every 100 ms; reported: peak growth
#     over the fresh server's RSS, the bytes queued in the kernel (ss Recv-Q + Send-Q, both ends),
#     and whether the server still echoes afterwards. NOREAD_CLIENTS such clients run one after
#     the other against the same server: growth that accumulates from one to the next is a leak.
# Each part runs against wsecho and, with REF=1 (default), Deno's native WebSocket for reference;
# (a) also against bench/deno_tcp_echo.ts (plain TCP, wsload --raw): the Deno per-connection floor.
# Logs: bench/results/memory-<UTC time>/ (gitignored).
#
# usage: bash bench/memory.sh [--parts idle,noread]
# env: PARTS (idle,noread), CONNS (10000), HOLD (10), ROUNDS (1, for idle), TOTAL (256m),
#   MSG_SIZE (64k), STALL (5 s without write progress = stalled), CLIENT_TIMEOUT (120 s), REF (1),
#   NOREAD_CLIENTS (3),
#   PORT_BASE (9450: uses PORT_BASE..+62), SERVER_CPU (1), LOAD_CPU (0), WSLOAD_DIR, DENO,
#   WSECHO_ARGS (extra wsecho flags, e.g. '--max-backpressure 4m'), WSECHO_REV (commit to run)
set -euo pipefail

# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PARTS="${PARTS:-idle,noread}"
while [ $# -gt 0 ]; do
  case "$1" in
    --parts) PARTS="$2"; shift 2 ;;
    -h | --help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "memory.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
CONNS="${CONNS:-10000}" HOLD="${HOLD:-10}" ROUNDS="${ROUNDS:-1}" TOTAL="${TOTAL:-256m}"
MSG_SIZE="${MSG_SIZE:-64k}" STALL="${STALL:-5}" CLIENT_TIMEOUT="${CLIENT_TIMEOUT:-120}"
NOREAD_CLIENTS="${NOREAD_CLIENTS:-3}"
REF="${REF:-1}" PORT_BASE="${PORT_BASE:-9450}"
for v in CONNS HOLD ROUNDS STALL CLIENT_TIMEOUT PORT_BASE NOREAD_CLIENTS; do
  [[ "${!v}" =~ ^[0-9]+$ ]] || { echo "memory.sh: $v must be a whole number" >&2; exit 2; }
done
if [ "$ROUNDS" -lt 1 ] || [ "$ROUNDS" -gt 20 ]; then echo "memory.sh: ROUNDS must be 1..20" >&2; exit 2; fi
if [ "$CLIENT_TIMEOUT" -gt 600 ]; then echo "memory.sh: CLIENT_TIMEOUT must be <= 600" >&2; exit 2; fi
if [ "$NOREAD_CLIENTS" -lt 1 ] || [ "$NOREAD_CLIENTS" -gt 10 ]; then
  echo "memory.sh: NOREAD_CLIENTS must be 1..10" >&2
  exit 2
fi

ensure_wsload
OUT="$ROOT/bench/results/memory-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$OUT"
SAMPLER_PID=""
on_exit() {
  [ -z "$SAMPLER_PID" ] || kill "$SAMPLER_PID" 2>/dev/null || true
  bench_cleanup
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

{
  echo "wsecho memory benchmark, $(date -u +%FT%TZ), $(uname -r), $(nproc) CPUs"
  setup_commands
  echo "deno: $("$DENO" --version | head -1); parts $PARTS; logs in $OUT"
  [ -z "${MAX_BACKPRESSURE:-}" ] || echo "NOTE: MAX_BACKPRESSURE=$MAX_BACKPRESSURE is set in the environment"
} >"$OUT/header.txt"
cat "$OUT/header.txt"

# sampler PID FILE SECONDS — "t_s VmRSS_kB VmHWM_kB" every 100 ms until the process is gone,
# SECONDS have passed, or FILE.stop exists.
sampler() {
  local pid="$1" file="$2" n=$(($3 * 10)) i rss hwm
  for ((i = 0; i < n; i++)); do
    [ -e "$file.stop" ] && break
    read -r rss hwm < <(awk '$1 == "VmRSS:" { r = $2 } $1 == "VmHWM:" { h = $2 } END { print r, h }' \
      "/proc/$pid/status" 2>/dev/null) || break
    [ -n "$rss" ] || break
    printf '%d.%d %s %s\n' $((i / 10)) $((i % 10)) "$rss" "$hwm" >>"$file"
    sleep 0.1
  done
}

# still_echoes PORT — one connection, 1 s of 1 KiB binary echoes; prints msgs/s and errors.
still_echoes() {
  local line
  line=$(timeout 30 taskset -c "$LOAD_CPU" "$WSLOAD" -p "$1" -c 1 -s 1024 --binary -d 1 -w 0 -q 2>&1 |
    grep '^wsload mode=' | tail -1) || true
  if [ -z "$line" ]; then echo "no (wsload gave no result)"; return; fi
  local m e
  m=$(field "$line" msgs_per_s) e=$(field "$line" errors)
  if [ "${e:-1}" = 0 ] && awk -v m="$m" 'BEGIN { exit !(m > 0) }'; then
    echo "yes ($m msgs/s, 0 errors)"
  else
    echo "NO (msgs/s $m, errors $e, conn_fail $(field "$line" conn_fail))"
  fi
}

# queues PORT FILE SECONDS — every 0.5 s, "t_s bytes" queued in the kernel on both ends of every
# connection to PORT (Recv-Q + Send-Q), until FILE.stop exists or SECONDS have passed.
queues() {
  local port="$1" file="$2" n=$(($3 * 2)) i
  for ((i = 0; i < n; i++)); do
    [ -e "$file.stop" ] && break
    ss -tnH state established "( sport = :$port or dport = :$port )" 2>/dev/null |
      awk -v t="$((i / 2)).$((i % 2 * 5))" '{ q += $1 + $2 } END { print t, q + 0 }' >>"$file"
    sleep 0.5
  done
}

# noread_run NAME PORT CMD... — part (b) against one fresh server: NOREAD_CLIENTS clients one
# after the other (growth that adds up from one client to the next would be a leak).
noread_run() {
  local name="$1" port="$2"
  shift 2
  local log="$OUT/noread.$name"
  start_server "$log.server.log" "$port" "$@" || return 1
  local pid="$SRV_PID" pgid="$SRV_PGID"
  sleep 2
  local before hwm0
  before=$(status_kb "$pid" VmRSS) hwm0=$(status_kb "$pid" VmHWM)
  rm -f "$log".samples* "$log".queues*
  local budget=$((NOREAD_CLIENTS * (CLIENT_TIMEOUT + STALL + 20) + 10))
  sampler "$pid" "$log.samples" "$budget" &
  SAMPLER_PID=$!
  echo "  $name: fresh server VmRSS $before KiB (VmHWM $hwm0 KiB)"
  local k rc cl last_rss
  for k in $(seq 1 "$NOREAD_CLIENTS"); do
    echo "# client $k" >>"$log.samples"
    rm -f "$log.queues.$k" "$log.queues.$k.stop"
    queues "$port" "$log.queues.$k" $((CLIENT_TIMEOUT + STALL + 20)) &
    local qpid=$!
    rc=0
    timeout $((CLIENT_TIMEOUT + STALL + 15)) taskset -c "$LOAD_CPU" "$DENO" run --allow-net=127.0.0.1 \
      "$BENCH_DIR/no_read_client.ts" --port "$port" --total "$TOTAL" --size "$MSG_SIZE" \
      --stall "$STALL" --timeout "$CLIENT_TIMEOUT" >"$log.client.$k.txt" 2>&1 || rc=$?
    touch "$log.queues.$k.stop"
    wait "$qpid" 2>/dev/null || true
    sleep 2 # the client has closed: does the memory go back?
    cl=$(grep '^no_read_client result=' "$log.client.$k.txt" | tail -1 || true)
    last_rss=$(status_kb "$pid" VmRSS)
    local peak qmax
    peak=$(awk -v k="$k" '$1 == "#" { c = $3; next } c == k && $2 > m { m = $2 } END { print m + 0 }' \
      "$log.samples")
    qmax=$(awk '$2 > m { m = $2 } END { print m + 0 }' "$log.queues.$k")
    printf '    client %d: %s after %.1f MiB written%s; kernel queues (both ends) max %.1f MiB;' \
      "$k" "$(field "$cl" result)" "$(awk -v b="$(field "$cl" sent_bytes)" 'BEGIN { print b / 1048576 }')" \
      "$([ "$rc" = 0 ] || echo " (client exit status $rc: $(tail -1 "$log.client.$k.txt"))")" \
      "$(awk -v q="$qmax" 'BEGIN { print q / 1048576 }')"
    printf ' server VmRSS peak %s KiB (+%.1f MiB), %s KiB 2 s after close\n' "$peak" \
      "$(awk -v p="$peak" -v b="$before" 'BEGIN { print (p - b) / 1024 }')" "${last_rss:--}"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$k" "$before" "$peak" "$(field "$cl" result)" \
      "$(field "$cl" sent_bytes)" "$qmax" "${last_rss:--}" >>"$OUT/noread.tsv"
    kill -0 "$pid" 2>/dev/null || break
  done
  touch "$log.samples.stop"
  wait "$SAMPLER_PID" 2>/dev/null || true
  SAMPLER_PID=""
  local hwm1 alive="NO (server process gone: see $log.server.log)"
  hwm1=$(status_kb "$pid" VmHWM)
  if kill -0 "$pid" 2>/dev/null; then alive=$(still_echoes "$port"); fi
  stop_group "$pgid"
  echo "    server VmHWM $hwm0 -> ${hwm1:--} KiB; $(grep -vc '^#' "$log.samples") RSS samples;" \
    "still echoes afterwards: $alive"
  echo "$name $alive" >>"$OUT/noread.alive"
}

IFS=',' read -ra PS <<<"$PARTS"
for part in "${PS[@]}"; do
  case "$part" in
    idle)
      echo
      echo "== (a) $CONNS idle connections held ${HOLD}s, fresh server each time, $ROUNDS round(s) =="
      : >"$OUT/idle.tsv"
      for r in $(seq 1 "$ROUNDS"); do
        idle_run wsecho $((PORT_BASE + r)) "$CONNS" "$HOLD" "$OUT" "$r" "${WSECHO_CMD[@]}" || true
        if [ "$REF" = 1 ]; then
          idle_run deno-native $((PORT_BASE + 20 + r)) "$CONNS" "$HOLD" "$OUT" "$r" "${NATIVE_CMD[@]}" || true
          IDLE_WSLOAD_EXTRA=--raw idle_run deno-tcp-floor $((PORT_BASE + 40 + r)) "$CONNS" "$HOLD" "$OUT" \
            "$r" "${TCP_FLOOR_CMD[@]}" || true
        fi
      done
      ;;
    noread)
      echo
      echo "== (b) one client sends $TOTAL in $MSG_SIZE binary messages and never reads" \
        "(stall = no write progress for ${STALL}s) =="
      : >"$OUT/noread.tsv"
      noread_run wsecho $((PORT_BASE + 61)) "${WSECHO_CMD[@]}" || true
      if [ "$REF" = 1 ]; then noread_run deno-native $((PORT_BASE + 62)) "${NATIVE_CMD[@]}" || true; fi
      ;;
    *) echo "memory.sh: unknown part $part (idle, noread)" >&2; exit 2 ;;
  esac
done

{
  echo
  echo "== summary =="
  if [ -s "$OUT/idle.tsv" ]; then
    echo "(a) server RSS per idle connection ($CONNS held ${HOLD}s), median [min-max] over $ROUNDS round(s):"
    idle_summary "$OUT" wsecho
    [ "$REF" != 1 ] || idle_summary "$OUT" deno-native
    [ "$REF" != 1 ] || idle_summary "$OUT" deno-tcp-floor
    [ "$REF" != 1 ] || echo "deno-tcp-floor: plain TCP echo in Deno (wsload --raw), one pending 1 KiB read" \
      "per connection: what any Deno server holds at least"
  fi
  if [ -s "$OUT/noread.tsv" ]; then
    echo "(b) client writing $TOTAL without reading:"
    awk -F'\t' '{ printf "%-12s client %s | %-8s after %6.1f MiB | kernel queues %5.1f MiB |" \
      " server VmRSS %d -> peak %d KiB: +%.1f MiB, %s KiB after close\n", $1, $2, $5, $6 / 1048576,
      $7 / 1048576, $3, $4, ($4 - $3) / 1024, $8 }' "$OUT/noread.tsv"
    [ ! -s "$OUT/noread.alive" ] || sed 's/^/still echoes afterwards: /' "$OUT/noread.alive"
  fi
  echo "logs: $OUT"
} | tee "$OUT/summary.txt"
