#!/usr/bin/env bash
# bench/rounds.sh — interleaved load rounds against several echo servers at once (bench/load.sh
# runs S1-S4 through it). Every server is started once, pinned to the server CPU; then, for each
# scenario and each round, wsload (pinned to the load CPU, sampling the server with --server-pid)
# runs against every server in turn. The order rotates by one server per (scenario, round), so no
# server always runs first or right after the same neighbour.
#
# usage: bash bench/rounds.sh [options] -- NAME MODE PORT COMMAND... [-- NAME MODE PORT COMMAND...]
#   NAME     label: letters, digits, '-' and '_' (runs are kept as OUT/NAME.SCENARIO.ROUND.txt)
#   MODE     ws (wsload speaks WebSocket) or raw (wsload --raw: plain TCP, same traffic shape)
#   PORT     127.0.0.1 port; the literal {PORT} in COMMAND is replaced by it (also $PORT in its
#            environment). A bare -- cannot be part of a COMMAND: it starts the next server.
# options:
#   -o, --out DIR         where every wsload output and server log goes (required)
#   -n, --rounds N        rounds per scenario (default 3)
#   -d, --duration SEC    measured seconds per run (default 8)
#   -w, --warmup SEC      warm-up seconds per run (default 2)
#   -s, --scenarios LIST  subset of S1,S2,S3,S4 (default all):
#                           S1 100 conns, 20 B text, ping-pong     S2 the same, 16 in flight
#                           S3 10 conns, 16 KiB binary, ping-pong  S4 1 conn, 1 MiB binary
#   --server-cpu N / --load-cpu N   CPUs for taskset (default $SERVER_CPU / $LOAD_CPU, else 1 / 0)
#   -x, --extra 'ARGS'    more wsload arguments, for every run
# Prints one line per run. Also writes OUT/runs.tsv (scenario, round, position in the round, name,
# wsload exit status, output file). Exit status: 0 every wsload run exited 0 (no errors, no
# connection failures); 1 some run did not; 2 bad usage, or a server did not start.
# env: WSLOAD_DIR, DENO (see bench/lib.sh)
set -euo pipefail

# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage_error() {
  echo "rounds.sh: $* (see --help)" >&2
  exit 2
}

OUT="" ROUNDS=3 DURATION=8 WARMUP=2 SCENARIOS="S1,S2,S3,S4" EXTRA=""
while [ $# -gt 0 ]; do
  case "$1" in
    -o | --out) OUT="$2"; shift 2 ;;
    -n | --rounds) ROUNDS="$2"; shift 2 ;;
    -d | --duration) DURATION="$2"; shift 2 ;;
    -w | --warmup) WARMUP="$2"; shift 2 ;;
    -s | --scenarios) SCENARIOS="$2"; shift 2 ;;
    --server-cpu) SERVER_CPU="$2"; shift 2 ;;
    --load-cpu) LOAD_CPU="$2"; shift 2 ;;
    -x | --extra) EXTRA="$2"; shift 2 ;;
    -h | --help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    --) break ;;
    *) usage_error "unknown option $1" ;;
  esac
done
[ -n "$OUT" ] || usage_error "--out DIR is required"
for v in ROUNDS DURATION WARMUP SERVER_CPU LOAD_CPU; do
  [[ "${!v}" =~ ^[0-9]+$ ]] || usage_error "$v must be a whole number"
done
[ "$ROUNDS" -ge 1 ] || usage_error "ROUNDS must be at least 1"
[ "$DURATION" -ge 1 ] || usage_error "DURATION must be at least 1"

# wsload arguments of each scenario
scenario_load() {
  case "$1" in
    S1) echo "-c 100 -s 20 --text -k 1" ;;
    S2) echo "-c 100 -s 20 --text -k 16" ;;
    S3) echo "-c 10 -s 16384 --binary -k 1" ;;
    S4) echo "-c 1 -s 1048576 --binary -k 1" ;;
    *) return 1 ;;
  esac
}
IFS=',' read -ra SCS <<<"$SCENARIOS"
[ "${#SCS[@]}" -gt 0 ] || usage_error "no scenario"
for sc in "${SCS[@]}"; do scenario_load "$sc" >/dev/null || usage_error "unknown scenario $sc"; done

# Servers: NAMES[i], MODES[i], PORTS[i]; the command is ARGV[CMD_AT[i]] .. + CMD_LEN[i] - 1.
NAMES=() MODES=() PORTS=() CMD_AT=() CMD_LEN=() ARGV=()
while [ $# -gt 0 ]; do
  [ "$1" = -- ] || usage_error "expected -- before a server, got $1"
  shift
  [ $# -ge 4 ] || usage_error "a server needs NAME MODE PORT COMMAND..."
  name="$1" mode="$2" port="$3"
  shift 3
  [[ "$name" =~ ^[A-Za-z0-9_-]+$ ]] || usage_error "server name '$name': letters, digits, - and _"
  for n in "${NAMES[@]}"; do [ "$n" != "$name" ] || usage_error "name $name given twice"; done
  [ "$mode" = ws ] || [ "$mode" = raw ] || usage_error "mode of $name must be ws or raw"
  [[ "$port" =~ ^[0-9]+$ ]] && [ "$port" -ge 1 ] && [ "$port" -le 65535 ] ||
    usage_error "port of $name must be 1..65535"
  for p in "${PORTS[@]}"; do [ "$p" != "$port" ] || usage_error "port $port given twice"; done
  NAMES+=("$name") MODES+=("$mode") PORTS+=("$port") CMD_AT+=("${#ARGV[@]}")
  len=0
  while [ $# -gt 0 ] && [ "$1" != -- ]; do
    ARGV+=("$1")
    len=$((len + 1))
    shift
  done
  CMD_LEN+=("$len")
done
NSRV="${#NAMES[@]}"
[ "$NSRV" -gt 0 ] || usage_error "no server given"

ensure_wsload
mkdir -p "$OUT"
trap bench_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

PIDS=()
for i in "${!NAMES[@]}"; do
  start_server "$OUT/${NAMES[i]}.server.log" "${PORTS[i]}" "${ARGV[@]:CMD_AT[i]:CMD_LEN[i]}" || {
    echo "rounds.sh: ${NAMES[i]} did not start" >&2
    exit 2
  }
  PIDS+=("$SRV_PID")
  echo "started ${NAMES[i]} (${MODES[i]}) on :${PORTS[i]}, pid $SRV_PID, CPU $SERVER_CPU:" \
    "${ARGV[*]:CMD_AT[i]:CMD_LEN[i]}" | sed "s/{PORT}/${PORTS[i]}/g"
done
sleep 1 # let the servers finish starting up before the first run
echo "wsload on CPU $LOAD_CPU: ${#SCS[@]} scenario(s) x $ROUNDS round(s) x $NSRV server(s)," \
  "${DURATION}s + ${WARMUP}s warm-up each; outputs in $OUT"

# run_load I SC ROUND POS — one wsload run against server I; prints one line, appends to runs.tsv.
# Returns 1 when the run gave no result or reported errors.
run_load() {
  local i="$1" sc="$2" round="$3" pos="$4"
  local name="${NAMES[i]}" file="$OUT/${NAMES[i]}.$2.$3.txt"
  local args extra
  read -ra args <<<"$(scenario_load "$sc")"
  read -ra extra <<<"$EXTRA"
  [ "${MODES[i]}" = raw ] && args+=(--raw)
  local rc=0
  if kill -0 "${PIDS[i]}" 2>/dev/null; then
    # wsload bounds its own phases; this is the backstop (connect timeout 30 s, close phase)
    timeout --kill-after=5 $((WARMUP + DURATION + 90)) taskset -c "$LOAD_CPU" "$WSLOAD" \
      -p "${PORTS[i]}" "${args[@]}" "${extra[@]}" -d "$DURATION" -w "$WARMUP" \
      --server-pid "${PIDS[i]}" >"$file" 2>&1 || rc=$?
  else
    echo "server $name (pid ${PIDS[i]}) is gone; see $OUT/$name.server.log" >"$file"
    rc=255
  fi
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$sc" "$round" "$pos" "$name" "$rc" "${file##*/}" \
    >>"$OUT/runs.tsv"
  local line
  line=$(grep '^wsload mode=' "$file" | tail -1 || true)
  printf '%-3s round %-2s %-11s ' "$sc" "$round" "$name"
  if [ -z "$line" ]; then
    echo "no result (exit status $rc, see $file)"
    return 1
  fi
  printf 'msgs/s %-10s p50 %-8s us/msg %-8s server/client cpu %s/%s other %-5s errors %s' \
    "$(field "$line" msgs_per_s)" "$(field "$line" p50_us)" \
    "$(field "$line" server_us_per_msg)" "$(field "$line" server_cpu)" \
    "$(field "$line" client_cpu)" "$(field "$line" other_cpu)" "$(field "$line" errors)"
  # wsload: 1 = errors (mismatch, protocol, close); 2 = connection failures or nothing echoed
  if [ "$rc" != 0 ]; then
    echo " conn_fail $(field "$line" conn_fail) (exit status $rc, see $file)"
    return 1
  fi
  echo
}

printf 'scenario\tround\tposition\tname\trc\tfile\n' >"$OUT/runs.tsv"
status=0 turn=0
for sc in "${SCS[@]}"; do
  for round in $(seq 1 "$ROUNDS"); do
    for pos in $(seq 0 $((NSRV - 1))); do
      run_load $(((turn + pos) % NSRV)) "$sc" "$round" $((pos + 1)) || status=1
    done
    turn=$((turn + 1))
  done
done
exit "$status"
