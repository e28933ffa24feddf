#!/usr/bin/env bash
# bench/load.sh — end-to-end throughput and idle-memory comparison (deno task bench:load).
#
# S1-S4 with the shared wsload compare.sh, candidate A = wsecho, against
#   B = Deno's native WebSocket (bench/deno_native_echo.ts), then against
#   the raw-TCP echo (compare.sh -r tcpecho: B is driven with wsload --raw, A still speaks WS);
# S5: a fresh server (wsecho, Deno native) holding 10,000 idle connections
#   (wsload --connect-only) -> server RSS per connection = (VmRSS held - VmRSS before) / N,
#   "before" read by this script from /proc/PID/status of the fresh server.
# Prints one table at the end. Raw logs: bench/results/load-<UTC time>/ (gitignored).
#
# usage: bash bench/load.sh [-n ROUNDS] [-d SEC] [-w SEC] [-s S1,S2,S3,S4,S5] [--refs deno,tcpecho]
# env (same meaning; flags win): ROUNDS (3), DURATION (8), WARMUP (2), SCENARIOS (S1,S2,S3,S4,S5),
#   REFS (deno,tcpecho), S5_CONNS (10000), S5_HOLD (10), S5_ROUNDS (= ROUNDS),
#   PORT_BASE (9410: uses PORT_BASE..+3 and +10..+29), SERVER_CPU (1), LOAD_CPU (0),
#   WSLOAD_DIR (../shared/tools/wsload from the repo root), DENO, WSECHO_ARGS (extra wsecho flags),
#   WSECHO_REV (benchmark src/ of this commit instead of the work tree, which others may be editing)
# quick run: ROUNDS=1 DURATION=3 deno task bench:load
set -euo pipefail

# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ROUNDS="${ROUNDS:-3}" DURATION="${DURATION:-8}" WARMUP="${WARMUP:-2}"
SCENARIOS="${SCENARIOS:-S1,S2,S3,S4,S5}" REFS="${REFS:-deno,tcpecho}"
while [ $# -gt 0 ]; do
  case "$1" in
    -n | --rounds) ROUNDS="$2"; shift 2 ;;
    -d | --duration) DURATION="$2"; shift 2 ;;
    -w | --warmup) WARMUP="$2"; shift 2 ;;
    -s | --scenarios) SCENARIOS="$2"; shift 2 ;;
    --refs) REFS="$2"; shift 2 ;;
    -h | --help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "load.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
S5_CONNS="${S5_CONNS:-10000}" S5_HOLD="${S5_HOLD:-10}" S5_ROUNDS="${S5_ROUNDS:-$ROUNDS}"
PORT_BASE="${PORT_BASE:-9410}"
for v in ROUNDS DURATION WARMUP S5_CONNS S5_HOLD S5_ROUNDS PORT_BASE; do
  [[ "${!v}" =~ ^[0-9]+$ ]] || { echo "load.sh: $v must be a whole number" >&2; exit 2; }
done
if [ "$ROUNDS" -lt 1 ] || [ "$ROUNDS" -gt 20 ]; then echo "load.sh: ROUNDS must be 1..20" >&2; exit 2; fi
if [ "$DURATION" -lt 1 ] || [ "$DURATION" -gt 120 ]; then
  echo "load.sh: DURATION must be 1..120" >&2
  exit 2
fi

# Split the scenario list into the compare.sh part (S1-S4) and S5.
CMP_SCEN="" DO_S5=0
IFS=',' read -ra SCS <<<"$SCENARIOS"
for s in "${SCS[@]}"; do
  case "$s" in
    S1 | S2 | S3 | S4) CMP_SCEN="${CMP_SCEN:+$CMP_SCEN,}$s" ;;
    S5) DO_S5=1 ;;
    *) echo "load.sh: unknown scenario $s" >&2; exit 2 ;;
  esac
done
DO_NATIVE=0 DO_RAW=0
IFS=',' read -ra RS <<<"$REFS"
for r in "${RS[@]}"; do
  case "$r" in
    deno) DO_NATIVE=1 ;;
    tcpecho) DO_RAW=1 ;;
    *) echo "load.sh: unknown ref $r (deno, tcpecho)" >&2; exit 2 ;;
  esac
done

ensure_wsload
OUT="$ROOT/bench/results/load-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$OUT"

CMP_PGIDS=()
on_exit() {
  local g
  for g in "${CMP_PGIDS[@]}"; do stop_group "$g"; done
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
  ncmp=$(tr ',' '\n' <<<"$CMP_SCEN" | grep -c . || true)
  est=$((ncmp * ROUNDS * 2 * (DURATION + WARMUP + 1) * (DO_NATIVE + DO_RAW) + 12 * (DO_NATIVE + DO_RAW)))
  [ "$DO_S5" = 0 ] || est=$((est + S5_ROUNDS * (1 + DO_NATIVE) * (S5_HOLD + 8)))
  echo "expected duration: about $(((est + 59) / 60)) min"
} >"$OUT/header.txt"
cat "$OUT/header.txt"

# compare REF PORT_A PORT_B SUBDIR — one compare.sh run (A = wsecho), bounded in time.
compare() {
  local ref="$1" pa="$2" pb="$3" dir="$OUT/$4"
  local nscen
  nscen=$(tr ',' '\n' <<<"$CMP_SCEN" | grep -c .)
  # per run: warm-up + duration + connect/close (<= ~30 s when things go wrong)
  local bound=$((nscen * ROUNDS * 2 * (DURATION + WARMUP + 30) + 120))
  mkdir -p "$dir"
  echo
  echo "== compare.sh: A = wsecho, B = $ref (bounded to ${bound}s) =="
  (cd "$ROOT" && exec setsid timeout --kill-after=15 "$bound" bash "$WSLOAD_DIR/compare.sh" \
    -r "$ref" -n "$ROUNDS" -d "$DURATION" -w "$WARMUP" -s "$CMP_SCEN" \
    --port-a "$pa" --port-b "$pb" --server-cpu "$SERVER_CPU" --load-cpu "$LOAD_CPU" --out "$dir" \
    -- "${WSECHO_CMD[@]}") >"$dir/compare.out" 2>&1 &
  local cpid=$!
  CMP_PGIDS+=("$cpid")
  # tail in the background: `wait` (unlike a foreground command) lets INT/TERM traps run at once
  tail -n +1 -f --pid="$cpid" "$dir/compare.out" 2>/dev/null &
  local tpid=$!
  local rc=0
  wait "$cpid" || rc=$?
  wait "$tpid" 2>/dev/null || true
  case "$rc" in
    0) echo "(compare.sh: ok)" ;;
    1) echo "(compare.sh exit status 1: some run reported errors, see $dir)" ;;
    124) echo "(compare.sh timed out after ${bound}s)" ;;
    *) echo "(compare.sh exit status $rc)" ;;
  esac
  echo "$rc" >"$dir/compare.rc"
}

if [ -n "$CMP_SCEN" ]; then
  if [ "$DO_NATIVE" = 1 ]; then
    compare "${NATIVE_CMD[*]}" "$PORT_BASE" $((PORT_BASE + 1)) vs-native
  fi
  if [ "$DO_RAW" = 1 ]; then
    compare tcpecho $((PORT_BASE + 2)) $((PORT_BASE + 3)) vs-tcpecho
  fi
fi

if [ "$DO_S5" = 1 ]; then
  echo
  echo "== S5: $S5_CONNS idle connections held ${S5_HOLD}s, fresh server each time, $S5_ROUNDS round(s) =="
  : >"$OUT/idle.tsv"
  for r in $(seq 1 "$S5_ROUNDS"); do
    idle_run wsecho $((PORT_BASE + 10 + r)) "$S5_CONNS" "$S5_HOLD" "$OUT" "$r" "${WSECHO_CMD[@]}" || true
    if [ "$DO_NATIVE" = 1 ]; then
      idle_run deno-native $((PORT_BASE + 20 + r)) "$S5_CONNS" "$S5_HOLD" "$OUT" "$r" \
        "${NATIVE_CMD[@]}" || true
    fi
  done
fi

# values DIR SIDE SC FIELD — the field from every run's wsload machine line, one per line.
values() {
  local f
  for f in "$1/$2.$3".*.txt; do
    [ -e "$f" ] || continue
    field "$(grep '^wsload mode=' "$f" | tail -1)" "$4"
  done
}
med() { values "$@" | median; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.3f", a / b; else print "-" }'; }
sum() { awk '{ s += $1 } END { printf "%d", s }'; }
runs() { values "$1" "$2" "$3" msgs_per_s | grep -c . || true; }

summary() {
  local N="$OUT/vs-native" R="$OUT/vs-tcpecho"
  echo
  echo "== summary: medians over rounds; msgs/s = echoed messages per second; us/msg = server CPU" \
    "microseconds per message (lower is better) =="
  if [ -n "$CMP_SCEN" ]; then
    printf '%-4s | %11s %11s %7s | %11s %11s %7s | %8s %8s %8s | %-13s | %s\n' scen \
      "wsecho" "deno-native" "ws/nat" "raw-tcp" "wsecho(2)" "ws/raw" \
      "us:ws" "us:nat" "us:raw" "errors/runs" "max other_cpu"
    local sc
    IFS=',' read -ra CS <<<"$CMP_SCEN"
    for sc in "${CS[@]}"; do
      local a b a2 t ua ub ut err nrun oth
      a=$(med "$N" A "$sc" msgs_per_s) b=$(med "$N" B "$sc" msgs_per_s)
      a2=$(med "$R" A "$sc" msgs_per_s) t=$(med "$R" B "$sc" msgs_per_s)
      ua=$(med "$N" A "$sc" server_us_per_msg) ub=$(med "$N" B "$sc" server_us_per_msg)
      ut=$(med "$R" B "$sc" server_us_per_msg)
      [ "$DO_NATIVE" = 1 ] || ua=$(med "$R" A "$sc" server_us_per_msg)
      [ "$DO_NATIVE" = 1 ] || a="$a2"
      err=$({ values "$N" A "$sc" errors; values "$N" B "$sc" errors; values "$R" A "$sc" errors
        values "$R" B "$sc" errors; } | sum)
      nrun=$(($(runs "$N" A "$sc") + $(runs "$N" B "$sc") + $(runs "$R" A "$sc") + $(runs "$R" B "$sc")))
      oth=$({ values "$N" A "$sc" other_cpu; values "$N" B "$sc" other_cpu; values "$R" A "$sc" other_cpu
        values "$R" B "$sc" other_cpu; } | sort -g | tail -1)
      printf '%-4s | %11s %11s %7s | %11s %11s %7s | %8s %8s %8s | %-13s | %s\n' "$sc" \
        "$a" "$b" "$(ratio "$a" "$b")" "$t" "$a2" "$(ratio "$a2" "$t")" "$ua" "$ub" "$ut" \
        "$err/$nrun" "${oth:--}"
    done
    echo "wsecho = A in the run against deno-native; wsecho(2) = A in the run against raw TCP (interleaved"
    echo "with it, so ws/raw = wsecho(2)/raw-tcp). raw-tcp is tcpecho driven with wsload --raw (same"
    echo "traffic, no WebSocket framing). other_cpu > ~10 means another process disturbed a run."
  fi
  if [ "$DO_S5" = 1 ] && [ -s "$OUT/idle.tsv" ]; then
    echo
    echo "S5: server RSS per idle connection = (VmRSS with $S5_CONNS connections held ${S5_HOLD}s - VmRSS" \
      "of the fresh server before) / $S5_CONNS; median [min-max] over rounds"
    idle_summary "$OUT" wsecho
    [ "$DO_NATIVE" = 1 ] && idle_summary "$OUT" deno-native
  fi
  local rc
  for rc in "$OUT"/vs-*/compare.rc; do
    [ -e "$rc" ] || continue
    [ "$(cat "$rc")" = 0 ] || echo "NOTE: compare.sh in $(dirname "$rc") exited with $(cat "$rc")"
  done
  echo "logs: $OUT"
}
summary | tee "$OUT/summary.txt"
