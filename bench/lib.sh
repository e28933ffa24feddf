# shellcheck shell=bash
# Shared helpers for the bench/*.sh scripts (sourced, not run).
# Servers are started in their own session (setsid) pinned with taskset, tracked by process group,
# and stopped by bench_cleanup (the callers trap EXIT). Only 127.0.0.1 is ever used.

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$BENCH_DIR/.." && pwd)"
WSLOAD_DIR="$(cd "$ROOT" && cd "${WSLOAD_DIR:-../shared/tools/wsload}" 2>/dev/null && pwd)" || {
  echo "bench: wsload not found at \${WSLOAD_DIR:-../shared/tools/wsload} (relative to $ROOT)" >&2
  exit 2
}
WSLOAD="$WSLOAD_DIR/wsload"
DENO="${DENO:-$(command -v deno || true)}"
[ -n "$DENO" ] || { echo "bench: deno not found (set DENO)" >&2; exit 2; }
SERVER_CPU="${SERVER_CPU:-1}"
LOAD_CPU="${LOAD_CPU:-0}"

SNAPSHOT_DIRS=()

# wsecho_command VAR REV LABEL — sets the array VAR to wsecho's command line ({PORT} for the
# port), and WSECHO_SRC to the src/ it runs: the work tree's when REV is empty; with REV
# no-streams, a copy of it with bench/codec_without_streams.ts as its codec (an experiment); else
# that commit's src/ extracted to a temporary directory (a stable snapshot while the work tree is
# being edited; removed at exit).
# WSECHO_ARGS adds flags (e.g. '--max-backpressure 4m').
wsecho_command() {
  local -n cmd_ref="$1"
  local rev_arg="$2" label="$3" src="$ROOT/src"
  if [ "$rev_arg" = no-streams ]; then
    # The work tree's src/ with bench/codec_without_streams.ts as its codec: an experiment that
    # measures what the decoder's and encoder's stream hops cost (never what wsecho runs).
    local dir
    dir=$(mktemp -d /tmp/wsecho-src-no-streams.XXXXXX)
    SNAPSHOT_DIRS+=("$dir")
    cp -r "$ROOT/src" "$dir/src"
    sed 's#"\.\./src/protocol/#"../protocol/#; s#"\.\./src/connection/#"./#' \
      "$BENCH_DIR/codec_without_streams.ts" >"$dir/src/connection/codec.ts"
    src="$dir/src"
    echo "$label: work tree src/ with its codec's streams taken out (bench/codec_without_streams.ts), in $src"
  elif [ -n "$rev_arg" ]; then
    local rev dir
    rev=$(git -C "$ROOT" rev-parse --short "$rev_arg^{commit}") || {
      echo "bench: $rev_arg is not a commit" >&2
      exit 2
    }
    # outside the repo, so that `deno check bench/` does not pick the copy up
    dir=$(mktemp -d "/tmp/wsecho-src-$rev.XXXXXX")
    SNAPSHOT_DIRS+=("$dir")
    git -C "$ROOT" archive "$rev" src | tar -x -C "$dir"
    src="$dir/src"
    echo "$label: src/ of commit $rev ($(git -C "$ROOT" log -1 --format=%s "$rev" | cut -c1-60)), in $src"
  else
    echo "$label: work tree src/ at $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')" \
      "($(git -C "$ROOT" status --short -- src 2>/dev/null | wc -l) uncommitted changes in src/)"
  fi
  # The entry point moved to src/runtime/deno/main.ts; older commits have src/main.ts.
  local entry="$src/runtime/deno/main.ts"
  [ -f "$entry" ] || entry="$src/main.ts"
  local extra
  read -ra extra <<<"${WSECHO_ARGS:-}"
  WSECHO_SRC="$src"
  cmd_ref=("$DENO" run --allow-net --allow-env "--allow-read=$src/static" "$entry"
    --host 127.0.0.1 --port "{PORT}" --log-level warn "${extra[@]}")
}

# setup_commands — defines WSECHO_CMD (WSECHO_REV: a commit's src/ instead of the work tree's),
# BASE_CMD (only with BASE_REV: the wsecho to compare against, as wsecho-base), NATIVE_CMD,
# TCP_FLOOR_CMD and DENO_TCP_CMD: the servers as argument arrays, {PORT} standing for the port.
setup_commands() {
  # shellcheck disable=SC2034
  BASE_CMD=()
  [ -z "${BASE_REV:-}" ] || wsecho_command BASE_CMD "$BASE_REV" wsecho-base
  # shellcheck disable=SC2034
  wsecho_command WSECHO_CMD "${WSECHO_REV:-}" wsecho # (last: WSECHO_SRC is its src/)
  # shellcheck disable=SC2034
  NATIVE_CMD=("$DENO" run --allow-net "$BENCH_DIR/deno_native_echo.ts" "{PORT}")
  # plain Deno TCP echo (driven with wsload --raw): 1 KiB read buffer for idle memory, 64 KiB for load
  # shellcheck disable=SC2034
  TCP_FLOOR_CMD=("$DENO" run --allow-net "$BENCH_DIR/deno_tcp_echo.ts" "{PORT}" 1024)
  # shellcheck disable=SC2034
  DENO_TCP_CMD=("$DENO" run --allow-net "$BENCH_DIR/deno_tcp_echo.ts" "{PORT}" 65536)
}

BENCH_PGIDS=()

ensure_wsload() {
  if [ ! -x "$WSLOAD" ] || [ ! -x "$WSLOAD_DIR/tcpecho" ]; then
    echo "building wsload in $WSLOAD_DIR"
    make -s -C "$WSLOAD_DIR" wsload tcpecho
  fi
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# PID of the process listening on 127.0.0.1:PORT (empty when none is found).
listener_pid() {
  ss -ltnpH "sport = :$1" 2>/dev/null | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2
}

# start_server LOGFILE PORT CMD... — sets SRV_PID (the listener) and SRV_PGID. {PORT} in CMD is
# replaced by PORT, which is also exported as $PORT. Fails when the port is taken or after 30 s.
start_server() {
  local log="$1" port="$2"
  shift 2
  if port_open "$port"; then
    echo "bench: port $port is already in use; pick others (see --help)" >&2
    return 1
  fi
  local cmd=("${@//\{PORT\}/$port}")
  (cd "$ROOT" && PORT="$port" exec setsid taskset -c "$SERVER_CPU" "${cmd[@]}") >"$log" 2>&1 &
  SRV_PGID=$!
  BENCH_PGIDS+=("$SRV_PGID")
  local i
  for i in $(seq 1 300); do
    port_open "$port" && break
    kill -0 "$SRV_PGID" 2>/dev/null || break
    sleep 0.1
  done
  if ! port_open "$port"; then
    echo "bench: server did not listen on $port within 30 s (${i} checks): ${cmd[*]}" >&2
    sed 's/^/  | /' "$log" >&2
    stop_group "$SRV_PGID"
    return 1
  fi
  SRV_PID=$(listener_pid "$port")
  [ -n "$SRV_PID" ] || SRV_PID=$SRV_PGID
}

# stop_groups [-w TENTHS] PGID... — process groups we started: TERM to all of them at once, then
# KILL to those still there after up to 3 s (TENTHS tenths of a second with -w).
stop_groups() {
  local tenths=30
  if [ "${1:-}" = -w ]; then
    tenths="$2"
    shift 2
  fi
  local g i alive
  for g in "$@"; do kill -TERM -- "-$g" 2>/dev/null || true; done
  for ((i = 0; i < tenths; i++)); do
    alive=0
    for g in "$@"; do
      if kill -0 -- "-$g" 2>/dev/null; then alive=1; fi
    done
    [ "$alive" = 1 ] || return 0
    sleep 0.1
  done
  for g in "$@"; do kill -KILL -- "-$g" 2>/dev/null || true; done
}

# stop_group PGID — one process group: TERM, then KILL after up to 3 s.
stop_group() { stop_groups "$1"; }

bench_cleanup() {
  # all at once: a caller stopped in turn may itself be killed 3 s after its TERM
  [ "${#BENCH_PGIDS[@]}" = 0 ] || stop_groups "${BENCH_PGIDS[@]}"
  BENCH_PGIDS=()
  local d
  for d in "${SNAPSHOT_DIRS[@]}"; do
    if [ -d "$d/src" ]; then rm -rf "$d"; fi
  done
  SNAPSHOT_DIRS=()
}

# status_kb PID FIELD — a field of /proc/PID/status in KiB (VmRSS, VmHWM), empty if gone.
status_kb() { awk -v f="$2:" '$1 == f { print $2; exit }' "/proc/$1/status" 2>/dev/null; }

# field LINE NAME — value of NAME=... in a wsload machine line.
field() { grep -o " $2=[^ ]*" <<<"$1" | head -1 | cut -d= -f2; }

median() {
  sort -g | awk '{ a[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) print a[(NR + 1) / 2];
    else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}
minmax() { sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { if (NR) print lo "-" hi; else print "-" }'; }

# idle_run NAME PORT CONNS HOLD OUTDIR ROUND CMD... — a fresh server, N idle connections held
# HOLD seconds by `wsload --connect-only` (plus $IDLE_WSLOAD_EXTRA, e.g. --raw, when set);
# appends one line to OUTDIR/idle.tsv:
# name round rss_before_kb rss_held_kb bytes_per_conn established alive wsload_bytes_per_conn rc
idle_run() {
  local name="$1" port="$2" conns="$3" hold="$4" out="$5" round="$6"
  shift 6
  local log="$out/idle.$name.$round"
  start_server "$log.server.log" "$port" "$@" || return 1
  local pid="$SRV_PID" pgid="$SRV_PGID"
  sleep 2 # let the fresh server settle (JIT, first GC) before "before"
  local before
  before=$(status_kb "$pid" VmRSS)
  local rc=0
  local extra
  read -ra extra <<<"${IDLE_WSLOAD_EXTRA:-}"
  timeout $((hold + 120)) taskset -c "$LOAD_CPU" "$WSLOAD" -p "$port" --connect-only -c "$conns" \
    -d "$hold" --server-pid "$pid" "${extra[@]}" >"$log.wsload.txt" 2>&1 || rc=$?
  local line
  line=$(grep '^wsload mode=connect-only' "$log.wsload.txt" | tail -1)
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "  !! $name died during the idle-connection run (see $log.server.log)"
  fi
  stop_group "$pgid"
  local held est alive theirs per
  held=$(field "$line" rss_held_kb)
  est=$(field "$line" established)
  alive=$(field "$line" alive)
  theirs=$(field "$line" rss_per_conn_bytes)
  per=$(awk -v a="$before" -v b="$held" -v n="$conns" \
    'BEGIN { if (a != "" && b != "" && b >= 0 && n > 0) printf "%.0f", (b - a) * 1024 / n; else print "-" }')
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$round" "${before:--}" "${held:--}" "$per" \
    "${est:--}" "${alive:--}" "${theirs:--}" "$rc" >>"$out/idle.tsv"
  printf '  %-14s round %s: VmRSS %s KiB before -> %s KiB held; %s B/conn (wsload: %s); established %s alive %s; rc %s\n' \
    "$name" "$round" "${before:--}" "${held:--}" "$per" "${theirs:--}" "${est:--}" "${alive:--}" "$rc"
  if [ "$rc" -ne 0 ]; then
    grep -E 'first (failure|close)|errors:' "$log.wsload.txt" | sed 's/^/     | /'
  fi
}

# idle_summary OUTDIR NAME — "median [min-max] B/conn, before->held (median) KiB, est/alive"
idle_summary() {
  local t="$1/idle.tsv" n="$2"
  local per before held est alive range
  per=$(awk -F'\t' -v n="$n" '$1 == n && $5 != "-" { print $5 }' "$t" | median)
  range=$(awk -F'\t' -v n="$n" '$1 == n && $5 != "-" { print $5 }' "$t" | minmax)
  before=$(awk -F'\t' -v n="$n" '$1 == n { print $3 }' "$t" | median)
  held=$(awk -F'\t' -v n="$n" '$1 == n { print $4 }' "$t" | median)
  est=$(awk -F'\t' -v n="$n" '$1 == n { print $6 }' "$t" | median)
  alive=$(awk -F'\t' -v n="$n" '$1 == n { print $7 }' "$t" | median)
  printf '%-14s | %10s B/conn [%s] | VmRSS %s -> %s KiB | established %s, alive %s\n' \
    "$n" "$per" "$range" "$before" "$held" "$est" "$alive"
}
