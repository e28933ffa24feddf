#!/usr/bin/env bash
# bench/load.sh — end-to-end throughput and idle-memory comparison (deno task bench:load).
#
# S1-S4 through bench/rounds.sh: four servers started once and run in turn, round after round
# (interleaved in time, so the ratios between them come from one run):
#   wsecho       this project (WebSocket)
#   deno-native  Deno's native WebSocket, Deno.serve + Deno.upgradeWebSocket
#                (bench/deno_native_echo.ts)
#   deno-tcp     a plain Deno TCP echo, conn.read()/conn.write() with a 64 KiB buffer
#                (bench/deno_tcp_echo.ts), driven with wsload --raw: what JavaScript on Deno can do
#   tcpecho      the C epoll echo of WSLOAD_DIR, driven with wsload --raw: this machine's echo limit
#   (--raw: the same traffic shape, no WebSocket upgrade or framing)
# S5: a fresh server (wsecho, Deno native) holding 10,000 idle connections
#   (wsload --connect-only) -> server RSS per connection = (VmRSS held - VmRSS before) / N,
#   "before" read by this script from /proc/PID/status of the fresh server.
# Prints one table at the end. Raw logs: bench/results/load-<UTC time>/ (gitignored).
#
# usage: bash bench/load.sh [-n ROUNDS] [-d SEC] [-w SEC] [-s S1,S2,S3,S4,S5]
#          [--refs deno,deno-tcp,tcpecho] [--server-cpu N] [--load-cpu N]
# env (same meaning; flags win): ROUNDS (3), DURATION (8), WARMUP (2), SCENARIOS (S1,S2,S3,S4,S5),
#   REFS (deno,deno-tcp,tcpecho: the references run beside wsecho; deno is also S5's),
#   S5_CONNS (10000), S5_HOLD (10), S5_ROUNDS (= ROUNDS),
#   PORT_BASE (9410: uses PORT_BASE..+4 and +10..+39), SERVER_CPU (1), LOAD_CPU (0),
#   WSLOAD_DIR (../shared/tools/wsload from the repo root), DENO, WSECHO_ARGS (extra wsecho flags),
#   WSECHO_REV (benchmark src/ of this commit instead of the work tree, which others may be editing),
#   BASE_REV (also run wsecho of this commit, as wsecho-base, in the same rounds and in S5: before/after;
#     BASE_REV=no-streams: the work tree with bench/codec_without_streams.ts, an experiment)
# quick run: ROUNDS=1 DURATION=3 deno task bench:load
# the other CPU pair: deno task bench:load --server-cpu 0 --load-cpu 1
set -euo pipefail

# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ROUNDS="${ROUNDS:-3}" DURATION="${DURATION:-8}" WARMUP="${WARMUP:-2}"
SCENARIOS="${SCENARIOS:-S1,S2,S3,S4,S5}" REFS="${REFS:-deno,deno-tcp,tcpecho}"
while [ $# -gt 0 ]; do
  case "$1" in
    -n | --rounds) ROUNDS="$2"; shift 2 ;;
    -d | --duration) DURATION="$2"; shift 2 ;;
    -w | --warmup) WARMUP="$2"; shift 2 ;;
    -s | --scenarios) SCENARIOS="$2"; shift 2 ;;
    --refs) REFS="$2"; shift 2 ;;
    --server-cpu) SERVER_CPU="$2"; shift 2 ;;
    --load-cpu) LOAD_CPU="$2"; shift 2 ;;
    -h | --help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "load.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
S5_CONNS="${S5_CONNS:-10000}" S5_HOLD="${S5_HOLD:-10}" S5_ROUNDS="${S5_ROUNDS:-$ROUNDS}"
PORT_BASE="${PORT_BASE:-9410}"
for v in ROUNDS DURATION WARMUP S5_CONNS S5_HOLD S5_ROUNDS PORT_BASE SERVER_CPU LOAD_CPU; do
  [[ "${!v}" =~ ^[0-9]+$ ]] || { echo "load.sh: $v must be a whole number" >&2; exit 2; }
done
if [ "$ROUNDS" -lt 1 ] || [ "$ROUNDS" -gt 20 ]; then echo "load.sh: ROUNDS must be 1..20" >&2; exit 2; fi
if [ "$DURATION" -lt 1 ] || [ "$DURATION" -gt 120 ]; then
  echo "load.sh: DURATION must be 1..120" >&2
  exit 2
fi
if [ "$PORT_BASE" -lt 1024 ] || [ "$PORT_BASE" -gt 65500 ]; then
  echo "load.sh: PORT_BASE must be 1024..65500" >&2
  exit 2
fi
for v in SERVER_CPU LOAD_CPU; do
  if ! taskset -c "${!v}" true 2>/dev/null; then
    echo "load.sh: $v=${!v} is not a CPU this process may run on" >&2
    exit 2
  fi
done
if [ "$SERVER_CPU" = "$LOAD_CPU" ]; then
  echo "load.sh: the server and the load generator need CPUs of their own (both are $LOAD_CPU)" >&2
  exit 2
fi

# Split the scenario list into the interleaved rounds (S1-S4) and S5.
RND_SCEN="" DO_S5=0
IFS=',' read -ra SCS <<<"$SCENARIOS"
for s in "${SCS[@]}"; do
  case "$s" in
    S1 | S2 | S3 | S4) RND_SCEN="${RND_SCEN:+$RND_SCEN,}$s" ;;
    S5) DO_S5=1 ;;
    *) echo "load.sh: unknown scenario $s" >&2; exit 2 ;;
  esac
done
DO_NATIVE=0 DO_DENO_TCP=0 DO_TCPECHO=0
IFS=',' read -ra RS <<<"$REFS"
for r in "${RS[@]}"; do
  case "$r" in
    deno) DO_NATIVE=1 ;;
    deno-tcp) DO_DENO_TCP=1 ;;
    tcpecho) DO_TCPECHO=1 ;;
    *) echo "load.sh: unknown ref $r (deno, deno-tcp, tcpecho)" >&2; exit 2 ;;
  esac
done
DO_BASE=0
[ -z "${BASE_REV:-}" ] || DO_BASE=1
NSRV=$((1 + DO_BASE + DO_NATIVE + DO_DENO_TCP + DO_TCPECHO))

ensure_wsload
OUT="$ROOT/bench/results/load-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$OUT"

RND_PGIDS=()
on_exit() {
  # rounds.sh stops its servers when it is stopped: give it the time to
  [ "${#RND_PGIDS[@]}" = 0 ] || stop_groups -w 100 "${RND_PGIDS[@]}"
  bench_cleanup
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

{
  echo "wsecho load benchmark, $(date -u +%FT%TZ), $(uname -r), $(nproc) CPUs"
  setup_commands
  echo "deno: $("$DENO" --version | head -1); wsload: $WSLOAD"
  echo "rounds $ROUNDS, ${DURATION}s + ${WARMUP}s warm-up; scenarios $SCENARIOS; refs $REFS"
  echo "server CPU $SERVER_CPU, load CPU $LOAD_CPU; logs in $OUT"
  nrnd=$(tr ',' '\n' <<<"$RND_SCEN" | grep -c . || true)
  est=$((nrnd * ROUNDS * NSRV * (DURATION + WARMUP + 1) + 12 * NSRV))
  [ "$DO_S5" = 0 ] || est=$((est + S5_ROUNDS * (1 + DO_BASE + DO_NATIVE) * (S5_HOLD + 8)))
  echo "expected duration: about $(((est + 59) / 60)) min"
} >"$OUT/header.txt"
cat "$OUT/header.txt"

# The servers of the rounds: NAME MODE PORT COMMAND..., each after a --.
SERVERS=(-- wsecho ws "$PORT_BASE" "${WSECHO_CMD[@]}")
[ "${#BASE_CMD[@]}" = 0 ] || SERVERS+=(-- wsecho-base ws $((PORT_BASE + 4)) "${BASE_CMD[@]}")
[ "$DO_NATIVE" = 0 ] || SERVERS+=(-- deno-native ws $((PORT_BASE + 1)) "${NATIVE_CMD[@]}")
[ "$DO_DENO_TCP" = 0 ] || SERVERS+=(-- deno-tcp raw $((PORT_BASE + 2)) "${DENO_TCP_CMD[@]}")
[ "$DO_TCPECHO" = 0 ] || SERVERS+=(-- tcpecho raw $((PORT_BASE + 3)) "$WSLOAD_DIR/tcpecho" "{PORT}")

if [ -n "$RND_SCEN" ]; then
  dir="$OUT/rounds"
  nrnd=$(tr ',' '\n' <<<"$RND_SCEN" | grep -c .)
  # per run: warm-up + duration + connect/close (<= ~30 s when things go wrong); 30 s per start
  bound=$((nrnd * ROUNDS * NSRV * (DURATION + WARMUP + 30) + 30 * NSRV + 60))
  mkdir -p "$dir"
  echo
  echo "== S1-S4: $NSRV servers in turn, $ROUNDS round(s) (bench/rounds.sh, bounded to ${bound}s) =="
  (cd "$ROOT" && exec setsid timeout --kill-after=15 "$bound" bash "$BENCH_DIR/rounds.sh" \
    -n "$ROUNDS" -d "$DURATION" -w "$WARMUP" -s "$RND_SCEN" --server-cpu "$SERVER_CPU" \
    --load-cpu "$LOAD_CPU" --out "$dir" "${SERVERS[@]}") >"$dir/rounds.out" 2>&1 &
  rpid=$!
  RND_PGIDS+=("$rpid")
  # tail in the background: `wait` (unlike a foreground command) lets INT/TERM traps run at once
  tail -n +1 -f --pid="$rpid" "$dir/rounds.out" 2>/dev/null &
  tpid=$!
  rc=0
  wait "$rpid" || rc=$?
  wait "$tpid" 2>/dev/null || true
  case "$rc" in
    0) echo "(rounds.sh: ok)" ;;
    1) echo "(rounds.sh exit status 1: some run reported errors or gave no result, see $dir)" ;;
    124) echo "(rounds.sh timed out after ${bound}s)" ;;
    *) echo "(rounds.sh exit status $rc)" ;;
  esac
  echo "$rc" >"$dir/rounds.rc"
fi

if [ "$DO_S5" = 1 ]; then
  echo
  echo "== S5: $S5_CONNS idle connections held ${S5_HOLD}s, fresh server each time, $S5_ROUNDS round(s) =="
  : >"$OUT/idle.tsv"
  for r in $(seq 1 "$S5_ROUNDS"); do
    idle_run wsecho $((PORT_BASE + 10 + r)) "$S5_CONNS" "$S5_HOLD" "$OUT" "$r" "${WSECHO_CMD[@]}" || true
    if [ "${#BASE_CMD[@]}" != 0 ]; then
      idle_run wsecho-base $((PORT_BASE + 30 + r)) "$S5_CONNS" "$S5_HOLD" "$OUT" "$r" \
        "${BASE_CMD[@]}" || true
    fi
    if [ "$DO_NATIVE" = 1 ]; then
      idle_run deno-native $((PORT_BASE + 20 + r)) "$S5_CONNS" "$S5_HOLD" "$OUT" "$r" \
        "${NATIVE_CMD[@]}" || true
    fi
  done
fi

# values NAME SC FIELD — the field from the wsload machine line of every round that gave a result,
# one per line. No result: no machine line, a connection that failed, or nothing echoed (wsload
# still prints its line then, with msgs_per_s=0 and -1 for what it could not measure).
values() {
  local f line
  for f in "$OUT/rounds/$1.$2".*.txt; do
    [ -e "$f" ] || continue
    line=$(grep '^wsload mode=' "$f" | tail -1) || true
    [ -n "$line" ] && [ "$(field "$line" conn_fail)" = 0 ] || continue
    awk -v m="$(field "$line" msgs_per_s)" 'BEGIN { exit !(m + 0 > 0) }' || continue
    field "$line" "$3" || true
  done
}
med() { values "$@" | median; }
ratio() {
  awk -v a="$1" -v b="$2" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.3f", a / b; else print "-" }'
}
sum() { awk '{ s += $1 } END { printf "%d", s }'; }
maxof() { sort -g | awk 'END { print (NR ? $1 : "-") }'; }
# outputs NAME SC — wsload output files of the rounds (a run that gave no result has one too)
outputs() { find "$OUT/rounds" -maxdepth 1 -name "$1.$2.*.txt" 2>/dev/null | grep -c . || true; }
# tally SC NAME... — "errors/runs" over these servers' runs, "+N no result" when runs gave none
tally() {
  local sc="$1" n err=0 ok=0 all=0
  shift
  for n in "$@"; do
    err=$((err + $(values "$n" "$sc" errors | sum)))
    ok=$((ok + $(values "$n" "$sc" msgs_per_s | grep -c . || true)))
    all=$((all + $(outputs "$n" "$sc")))
  done
  if [ "$all" -gt "$ok" ]; then echo "$err/$ok+$((all - ok))fail"; else echo "$err/$ok"; fi
}

summary() {
  echo
  echo "== summary: medians over rounds; msgs/s = echoed messages per second; p50_us = median" \
    "latency; us/msg = server CPU microseconds per message (lower is better) =="
  if [ -n "$RND_SCEN" ]; then
    local names=(wsecho) sc n mode
    [ "${#BASE_CMD[@]}" = 0 ] || names+=(wsecho-base)
    [ "$DO_NATIVE" = 0 ] || names+=(deno-native)
    [ "$DO_DENO_TCP" = 0 ] || names+=(deno-tcp)
    [ "$DO_TCPECHO" = 0 ] || names+=(tcpecho)
    IFS=',' read -ra CS <<<"$RND_SCEN"
    local row='%-4s %-11s %-4s | %11s %9s %9s | %-11s %s\n'
    # shellcheck disable=SC2059
    printf "$row" scen server mode msgs/s p50_us us/msg errors/runs "max other_cpu"
    for sc in "${CS[@]}"; do
      for n in "${names[@]}"; do
        mode=ws
        case "$n" in deno-tcp | tcpecho) mode=raw ;; esac
        # shellcheck disable=SC2059
        printf "$row" "$sc" "$n" "$mode" "$(med "$n" "$sc" msgs_per_s)" "$(med "$n" "$sc" p50_us)" \
          "$(med "$n" "$sc" server_us_per_msg)" "$(tally "$sc" "$n")" \
          "$(values "$n" "$sc" other_cpu | maxof)"
      done
    done
    echo
    echo "ratios of these medians, wsecho / reference (all from the same interleaved rounds):"
    row='%-4s | %10s %10s %10s | %10s %10s | %-11s %s\n'
    # shellcheck disable=SC2059
    printf "$row" scen msgs:w/nat msgs:w/dtcp msgs:w/tcpe us:w/dtcp p50:w/nat errors/runs \
      "max other_cpu"
    local a
    for sc in "${CS[@]}"; do
      a=$(med wsecho "$sc" msgs_per_s)
      # shellcheck disable=SC2059
      printf "$row" "$sc" "$(ratio "$a" "$(med deno-native "$sc" msgs_per_s)")" \
        "$(ratio "$a" "$(med deno-tcp "$sc" msgs_per_s)")" \
        "$(ratio "$a" "$(med tcpecho "$sc" msgs_per_s)")" \
        "$(ratio "$(med wsecho "$sc" server_us_per_msg)" "$(med deno-tcp "$sc" server_us_per_msg)")" \
        "$(ratio "$(med wsecho "$sc" p50_us)" "$(med deno-native "$sc" p50_us)")" \
        "$(tally "$sc" "${names[@]}")" \
        "$(for n in "${names[@]}"; do values "$n" "$sc" other_cpu; done | maxof)"
    done
    if [ "${#BASE_CMD[@]}" != 0 ]; then
      echo
      echo "wsecho / wsecho-base ($BASE_REV), same rounds:"
      row='%-4s | %10s %10s %10s\n'
      # shellcheck disable=SC2059
      printf "$row" scen msgs:w/base us:w/base p50:w/base
      for sc in "${CS[@]}"; do
        # shellcheck disable=SC2059
        printf "$row" "$sc" "$(ratio "$(med wsecho "$sc" msgs_per_s)" "$(med wsecho-base "$sc" msgs_per_s)")" \
          "$(ratio "$(med wsecho "$sc" server_us_per_msg)" "$(med wsecho-base "$sc" server_us_per_msg)")" \
          "$(ratio "$(med wsecho "$sc" p50_us)" "$(med wsecho-base "$sc" p50_us)")"
      done
    fi
    echo "w = wsecho, nat = deno-native, dtcp = deno-tcp (plain Deno TCP echo, 64 KiB reads,"
    echo "wsload --raw), tcpe = tcpecho (C, --raw). msgs > 1: wsecho echoes more messages per second;"
    echo "us > 1: wsecho spends more server CPU per message; p50 > 1: wsecho's median latency is higher."
    echo "The goals read as: S1 msgs:w/nat, us:w/dtcp, p50:w/nat; S2 msgs:w/nat; S3 msgs:w/dtcp;"
    echo "S4 msgs:w/tcpe. other_cpu > ~10 means another process disturbed a run."
  fi
  if [ "$DO_S5" = 1 ] && [ -s "$OUT/idle.tsv" ]; then
    echo
    echo "S5: server RSS per idle connection = (VmRSS with $S5_CONNS connections held ${S5_HOLD}s - VmRSS" \
      "of the fresh server before) / $S5_CONNS; median [min-max] over rounds"
    idle_summary "$OUT" wsecho
    [ "${#BASE_CMD[@]}" = 0 ] || idle_summary "$OUT" wsecho-base
    [ "$DO_NATIVE" = 1 ] && idle_summary "$OUT" deno-native
  fi
  if [ -e "$OUT/rounds/rounds.rc" ] && [ "$(cat "$OUT/rounds/rounds.rc")" != 0 ]; then
    echo "NOTE: rounds.sh exited with $(cat "$OUT/rounds/rounds.rc") (see $OUT/rounds/rounds.out)"
  fi
  echo "logs: $OUT"
}
summary | tee "$OUT/summary.txt"
