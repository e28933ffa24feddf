#!/usr/bin/env bash
# bench/load_bun.sh — wsecho on Bun, end to end (deno task bench:load:bun). The same scenarios as
# bench/load.sh, with the Bun column:
#   S1-S4 with the shared compare.sh: A = wsecho on Bun (src/runtime/bun/main.ts), against
#     B = Bun's native WebSocket (compare.sh -r bun: Bun.serve + server.upgrade, its
#     servers/bun_echo.js, run by the same pinned Bun), then against B = wsecho on Deno;
#   S5: a fresh server (wsecho on Bun, Bun native, wsecho on Deno) holding 10,000 idle
#     connections -> server RSS per connection, as in load.sh.
# Prints one table at the end. Raw logs: bench/results/load-bun-<UTC time>/ (gitignored).
#
# usage: bash bench/load_bun.sh [--help]   (no other flags: everything through the environment)
# env: ROUNDS (3), DURATION (8), WARMUP (2), SCENARIOS (S1,S2,S3,S4,S5), REFS (bun,deno: the
#   comparisons to make), S5_CONNS (10000), S5_HOLD (10), S5_ROUNDS (= ROUNDS), PORT_BASE (9450:
#   uses PORT_BASE..+3 and +10..+39), SERVER_CPU (1), LOAD_CPU (0), WSLOAD_DIR, DENO,
#   BUN (the Bun binary; default: the one `npx -y bun@1.4.5` brings), WSECHO_ARGS,
#   WSECHO_REV (default HEAD: both wsechos run from that commit's src/, not the work tree)
# quick run: ROUNDS=1 DURATION=3 deno task bench:load:bun
set -euo pipefail

# No flags (everything through the environment): --help prints the header above; anything else is
# refused rather than ignored, so that a mistyped flag does not start a 20-minute run.
case "${1:-}" in
  "") ;;
  -h | --help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
  *) echo "load_bun.sh: no arguments are taken (settings are environment variables; see --help)" >&2; exit 2 ;;
esac

# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

BUN_VERSION=1.4.5
ROUNDS="${ROUNDS:-3}" DURATION="${DURATION:-8}" WARMUP="${WARMUP:-2}"
SCENARIOS="${SCENARIOS:-S1,S2,S3,S4,S5}" REFS="${REFS:-bun,deno}"
S5_CONNS="${S5_CONNS:-10000}" S5_HOLD="${S5_HOLD:-10}" S5_ROUNDS="${S5_ROUNDS:-$ROUNDS}"
PORT_BASE="${PORT_BASE:-9450}"
for v in ROUNDS DURATION WARMUP S5_CONNS S5_HOLD S5_ROUNDS PORT_BASE; do
  [[ "${!v}" =~ ^[0-9]+$ ]] || { echo "load_bun.sh: $v must be a whole number" >&2; exit 2; }
done
if [ "$ROUNDS" -lt 1 ] || [ "$ROUNDS" -gt 20 ]; then echo "load_bun.sh: ROUNDS must be 1..20" >&2; exit 2; fi
if [ "$DURATION" -lt 1 ] || [ "$DURATION" -gt 120 ]; then
  echo "load_bun.sh: DURATION must be 1..120" >&2
  exit 2
fi
CMP_SCEN="" DO_S5=0
IFS=',' read -ra SCS <<<"$SCENARIOS"
for s in "${SCS[@]}"; do
  case "$s" in
    S1 | S2 | S3 | S4) CMP_SCEN="${CMP_SCEN:+$CMP_SCEN,}$s" ;;
    S5) DO_S5=1 ;;
    *) echo "load_bun.sh: unknown scenario $s" >&2; exit 2 ;;
  esac
done
DO_BUN=0 DO_DENO=0
IFS=',' read -ra RS <<<"$REFS"
for r in "${RS[@]}"; do
  case "$r" in
    bun) DO_BUN=1 ;;
    deno) DO_DENO=1 ;;
    *) echo "load_bun.sh: unknown ref $r (bun, deno)" >&2; exit 2 ;;
  esac
done

# The pinned Bun from npm; its binary is run directly (no npx in between the signals and the PID).
if [ -z "${BUN:-}" ]; then
  BUN=$(npx -y "bun@$BUN_VERSION" -e 'console.log(process.execPath)' | tail -1) || {
    echo "load_bun.sh: npx -y bun@$BUN_VERSION failed (set BUN)" >&2
    exit 2
  }
fi
export BUN # compare.sh -r bun runs its bun_echo.js with it

WSECHO_REV="${WSECHO_REV:-HEAD}"
ensure_wsload
OUT="$ROOT/bench/results/load-bun-$(date -u +%Y%m%dT%H%M%SZ)"
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
  echo "wsecho on Bun, load benchmark, $(date -u +%FT%TZ), $(uname -r), $(nproc) CPUs"
  setup_commands
  extra=()
  read -ra extra <<<"${WSECHO_ARGS:-}"
  WSECHO_BUN_CMD=("$BUN" "$WSECHO_SRC/runtime/bun/main.ts" --host 127.0.0.1 --port "{PORT}"
    --log-level warn "${extra[@]}")
  BUN_NATIVE_CMD=("$BUN" "$WSLOAD_DIR/servers/bun_echo.js" "{PORT}")
  echo "bun: $("$BUN" --version) ($BUN); deno: $("$DENO" --version | head -1); wsload: $WSLOAD"
  echo "rounds $ROUNDS, ${DURATION}s + ${WARMUP}s warm-up; scenarios $SCENARIOS; refs $REFS"
  echo "server CPU $SERVER_CPU, load CPU $LOAD_CPU; logs in $OUT"
} >"$OUT/header.txt"
cat "$OUT/header.txt"

# compare REF PORT_A PORT_B SUBDIR — one compare.sh run (A = wsecho on Bun), bounded in time.
compare() {
  local ref="$1" pa="$2" pb="$3" dir="$OUT/$4"
  local nscen
  nscen=$(tr ',' '\n' <<<"$CMP_SCEN" | grep -c .)
  local bound=$((nscen * ROUNDS * 2 * (DURATION + WARMUP + 30) + 120))
  mkdir -p "$dir"
  echo
  echo "== compare.sh: A = wsecho on Bun, B = $4 (bounded to ${bound}s) =="
  (cd "$ROOT" && exec setsid timeout --kill-after=15 "$bound" bash "$WSLOAD_DIR/compare.sh" \
    -r "$ref" -n "$ROUNDS" -d "$DURATION" -w "$WARMUP" -s "$CMP_SCEN" \
    --port-a "$pa" --port-b "$pb" --server-cpu "$SERVER_CPU" --load-cpu "$LOAD_CPU" --out "$dir" \
    -- "${WSECHO_BUN_CMD[@]}") >"$dir/compare.out" 2>&1 &
  local cpid=$!
  CMP_PGIDS+=("$cpid")
  tail -n +1 -f --pid="$cpid" "$dir/compare.out" 2>/dev/null &
  local tpid=$!
  local rc=0
  wait "$cpid" || rc=$?
  wait "$tpid" 2>/dev/null || true
  echo "(compare.sh exit status $rc)"
  echo "$rc" >"$dir/compare.rc"
}

if [ -n "$CMP_SCEN" ]; then
  [ "$DO_BUN" = 0 ] || compare bun "$PORT_BASE" $((PORT_BASE + 1)) vs-bun-native
  [ "$DO_DENO" = 0 ] || compare "${WSECHO_CMD[*]}" $((PORT_BASE + 2)) $((PORT_BASE + 3)) vs-wsecho-deno
fi

if [ "$DO_S5" = 1 ]; then
  echo
  echo "== S5: $S5_CONNS idle connections held ${S5_HOLD}s, fresh server each time, $S5_ROUNDS round(s) =="
  : >"$OUT/idle.tsv"
  for r in $(seq 1 "$S5_ROUNDS"); do
    idle_run wsecho-bun $((PORT_BASE + 10 + r)) "$S5_CONNS" "$S5_HOLD" "$OUT" "$r" \
      "${WSECHO_BUN_CMD[@]}" || true
    [ "$DO_BUN" = 0 ] || idle_run bun-native $((PORT_BASE + 20 + r)) "$S5_CONNS" "$S5_HOLD" \
      "$OUT" "$r" "${BUN_NATIVE_CMD[@]}" || true
    [ "$DO_DENO" = 0 ] || idle_run wsecho-deno $((PORT_BASE + 30 + r)) "$S5_CONNS" "$S5_HOLD" \
      "$OUT" "$r" "${WSECHO_CMD[@]}" || true
  done
fi

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

summary() {
  local N="$OUT/vs-bun-native" D="$OUT/vs-wsecho-deno"
  echo
  echo "== summary: medians over rounds; msgs/s = echoed messages per second; us/msg = server CPU" \
    "microseconds per message (lower is better) =="
  if [ -n "$CMP_SCEN" ]; then
    printf '%-4s | %11s %11s %7s | %11s %11s %7s | %8s %8s %8s | %-6s | %s\n' scen \
      "wsecho-bun" "bun-native" "ws/nat" "wsecho-bun2" "wsecho-deno" "bun/deno" \
      "us:ws" "us:nat" "us:deno" "errors" "max other_cpu"
    local sc
    IFS=',' read -ra CS <<<"$CMP_SCEN"
    for sc in "${CS[@]}"; do
      local a b a2 d ua ub ud err oth
      a=$(med "$N" A "$sc" msgs_per_s) b=$(med "$N" B "$sc" msgs_per_s)
      a2=$(med "$D" A "$sc" msgs_per_s) d=$(med "$D" B "$sc" msgs_per_s)
      ua=$(med "$N" A "$sc" server_us_per_msg) ub=$(med "$N" B "$sc" server_us_per_msg)
      ud=$(med "$D" B "$sc" server_us_per_msg)
      err=$({ values "$N" A "$sc" errors; values "$N" B "$sc" errors; values "$D" A "$sc" errors
        values "$D" B "$sc" errors; } | sum)
      oth=$({ values "$N" A "$sc" other_cpu; values "$N" B "$sc" other_cpu; values "$D" A "$sc" other_cpu
        values "$D" B "$sc" other_cpu; } | sort -g | tail -1)
      printf '%-4s | %11s %11s %7s | %11s %11s %7s | %8s %8s %8s | %-6s | %s\n' "$sc" \
        "$a" "$b" "$(ratio "$a" "$b")" "$a2" "$d" "$(ratio "$a2" "$d")" "$ua" "$ub" "$ud" \
        "$err" "${oth:--}"
    done
    echo "wsecho-bun = A in the run against bun-native; wsecho-bun2 = A in the run against wsecho on"
    echo "Deno (interleaved with it). other_cpu > ~10 means another process disturbed a run."
  fi
  if [ "$DO_S5" = 1 ] && [ -s "$OUT/idle.tsv" ]; then
    echo
    echo "S5: server RSS per idle connection = (VmRSS with $S5_CONNS connections held ${S5_HOLD}s - VmRSS" \
      "of the fresh server before) / $S5_CONNS; median [min-max] over rounds"
    idle_summary "$OUT" wsecho-bun
    [ "$DO_BUN" = 0 ] || idle_summary "$OUT" bun-native
    [ "$DO_DENO" = 0 ] || idle_summary "$OUT" wsecho-deno
  fi
  echo "logs: $OUT"
}
summary | tee "$OUT/summary.txt"
