#!/bin/bash
# Tests/Bench/bench.sh -- `make bench`: cw-aio and the Kamailio reference under the same SIPp load,
# in the same run, on this machine.
#
#   Needs: .build/release/cw-aio (make release), sipp, python3, /usr/bin/time, and for the reference
#   kamailio + kamailio-sqlite-modules + sqlite3 and the harness in ../shared/peers/kamailio next to
#   the repository (bench_kamailio.sh; it is run from there, with the same rates as cw-aio).
#   All traffic is on 127.0.0.1. Every SIPp run is bounded by -m COUNT, -timeout and coreutils
#   timeout; every process is stopped by the PID this script (or the Kamailio script) started.
#
# cw-aio steps: provision NSUB subscribers (+1 caller) -> start (startup_ms: fork/exec to the first
#   200 OK to OPTIONS) -> idle RSS -> register all NSUB users at FILL_RATE (Contacts point at the
#   SIPp UAS port) -> RSS -> REGISTER+digest steps at REG_RATES (ramp, stops at the first failing
#   step) -> one REGISTER step at half the peak (exact p99 from -trace_rtt) -> register the caller
#   from UAC_PORT (only registered flows may originate) -> call steps at CALL_RATES (ramp) -> stop ->
#   import subscribers up to NSUB_BIG -> restart -> RSS -> the 3x flood again on that server just
#   started (overload_cold). Then bench_kamailio.sh with the same rates.
#
# A step passes with 0 failed calls and achieved >= 95 % of the target rate (bench_kamailio.sh's
# rule); register_tps / calls_cps are the highest achieved rate of a passing step.
#
# Env knobs (defaults: about 5-6 minutes in all):
#   REG_RATES="2000 3000 4000 5000 6000 8000 10000 12000" REG_SECS=10
#   CALL_RATES="200 400 800 1100 1400 1800 2200 2700 3300" CALL_SECS=10 (steps ~25 % apart near both
#   servers' limits, ending above what either reached on this machine kind, so neither figure is the top
#   of the ramp: cw-aio passes 2200 and reaches its limit at 2700-3300, Kamailio fails at 1800; bench_kamailio.sh
#   runs every step within its own 240 s budget)
#   CALL_HOLD_MS=1000  FILL_RATE=1000  NSUB=10000  NSUB_BIG=100000 (0: skip the 100k restart)
#   KAMAILIO=1 (0: cw-aio only, ratios print n/a)  KAMAILIO_PEER=<repo>/../shared/peers/kamailio
#   CW_AIO=<repo>/.build/release/cw-aio  BENCH_DIR=<new /tmp/cw-aio-bench.XXXX>  BUDGET_S=300
#   cw-aio ports: PORT=5470 (TLS PORT+1) HSS_PORT=8470 HTTP_PORT=8471 UAS_PORT=5490 REG_PORT=5491
#   UAC_PORT=5492; Kamailio: KAM_PORT=5570 KAM_UAS_PORT=5590 KAM_REG_PORT=5591 KAM_UAC_PORT=5592
#   NICE=0 (e.g. -10: run the servers and SIPp at a higher CPU priority on a noisy host)  LOG_LEVEL=debug
#   (cw-aio logs nothing per request at debug; the overload controller's rate decisions, four a second
#   at most, land in cw-aio.log and the overload step's are summarised in the log)
#   OVERLOAD=1 (0: skip the two 3x overload steps)  FLOOD_NICE=NICE+5 (the flood's SIPp: its clients
#   would not share the server's cores)  OV_WAIT=4 (seconds between the half-peak step and the flood)
#   SETTLE_S=50 (wait after the fill for the finished transactions to expire, Timer J = 32 s, and a
#   heap trim, every 15 s; 0: skip)  RAISE_RMEM=1 (as root, lift net.core.rmem_max to 4 MB for the run)
#   CW_AIO_ARGS="--set key=value ..." (extra cw-aio arguments, e.g. to compare a setting)

set -u
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
LIB="$HERE/benchlib.py"
SCN=$HERE/scenarios
PEER=${KAMAILIO_PEER:-$REPO/../shared/peers/kamailio}
CW_AIO=${CW_AIO:-$REPO/.build/release/cw-aio}
KAMAILIO=${KAMAILIO:-1}
REG_RATES=${REG_RATES-2000 3000 4000 5000 6000 8000 10000 12000}
REG_SECS=${REG_SECS:-10}
CALL_RATES=${CALL_RATES-200 400 800 1100 1400 1800 2200 2700 3300}
CALL_SECS=${CALL_SECS:-10}
CALL_HOLD_MS=${CALL_HOLD_MS:-1000}
FILL_RATE=${FILL_RATE:-1000}
NSUB=${NSUB:-10000}
NSUB_BIG=${NSUB_BIG:-100000}
BUDGET_S=${BUDGET_S:-300}
PORT=${PORT:-5470}
HSS_PORT=${HSS_PORT:-8470}
HTTP_PORT=${HTTP_PORT:-8471}
UAS_PORT=${UAS_PORT:-5490}
REG_PORT=${REG_PORT:-5491}
UAC_PORT=${UAC_PORT:-5492}
KAM_PORT=${KAM_PORT:-5570}
KAM_UAS_PORT=${KAM_UAS_PORT:-5590}
KAM_REG_PORT=${KAM_REG_PORT:-5591}
KAM_UAC_PORT=${KAM_UAC_PORT:-5592}
NICE=${NICE:-0}
OVERLOAD=${OVERLOAD:-1}
SETTLE_S=${SETTLE_S:-50}
FLOOD_NICE=${FLOOD_NICE:-$(( NICE + 5 ))}
OV_WAIT=${OV_WAIT:-4}
NICE_CMD=(); [ "$NICE" != 0 ] && NICE_CMD=(nice -n "$NICE")
WORK=${BENCH_DIR:-$(mktemp -d /tmp/cw-aio-bench.XXXX)}
OUT=$WORK/cw-aio
DATA=$WORK/cw-aio-data
RESULTS=$OUT/results.tsv
HZ=$(getconf CLK_TCK)
BASE_NUM=6505550000
CALLER=$((BASE_NUM + NSUB))      # provisioned, not in users.csv: registered alone from UAC_PORT
SPID=""; UAS_PID=""; SIPP_PID=""; KAM_PID=""
T_START=$(date +%s)

die() { echo "bench: $*" >&2; exit 1; }
log() { echo "[$(date +%T)] $*" | tee -a "$OUT/bench.log" >&2; }

# ---------- preflight ----------
[ -x "$CW_AIO" ] || die "no cw-aio binary at $CW_AIO (run: make release)"
# The binary's file pages in a known state: RssFile depends on how they came into the page cache. As
# the linker wrote them (small pages) an idle cw-aio maps ~8 MB of them; read from disk (readahead's
# large folios, as after a boot or a copy) ~15 MB. Dropped and read back, every run measures the latter.
python3 -c 'import os, sys; fd = os.open(sys.argv[1], os.O_RDONLY); os.fsync(fd); os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)' "$CW_AIO"
cat "$CW_AIO" > /dev/null
for b in sipp python3 ss; do command -v $b >/dev/null || die "missing $b (make bench installs sip-tester iproute2)"; done
[ -x /usr/bin/time ] || die "missing /usr/bin/time (apt-get install time)"
if [ "$KAMAILIO" = 1 ]; then
  [ -f "$PEER/bench_kamailio.sh" ] || die "Kamailio reference harness not found at $PEER
  (expected ../shared/peers/kamailio beside the repository clone; set KAMAILIO_PEER=DIR, or KAMAILIO=0 to skip it)"
  for b in kamailio kamcmd sqlite3; do
    command -v $b >/dev/null || die "missing $b (make bench installs kamailio kamailio-sqlite-modules sqlite3)"; done
fi
[ -f "$SCN/reg_auth.xml" ] || die "missing $SCN/reg_auth.xml"
for f in uac_call.xml uas_call.xml; do   # the call scenarios are Kamailio's, used unchanged for both servers
  [ -f "$PEER/$f" ] || die "missing $PEER/$f: the call scenarios come from the Kamailio harness
  (expected ../shared/peers/kamailio beside the repository clone; set KAMAILIO_PEER=DIR)"
done
port_free() { ! ss -Hlnu "sport = :$1" | grep -q . && ! ss -Hlnt "sport = :$1" | grep -q .; }
PORTS="$PORT $((PORT + 1)) $HSS_PORT $HTTP_PORT $UAS_PORT $REG_PORT $UAC_PORT"
[ "$KAMAILIO" = 1 ] && PORTS="$PORTS $KAM_PORT $KAM_UAS_PORT $KAM_REG_PORT $KAM_UAC_PORT"
for p in $PORTS; do port_free "$p" || die "port $p is busy on this machine; see the port knobs in $0"; done
mkdir -p "$OUT" "$DATA" || die "cannot create $OUT"

# ---------- helpers ----------
ticks_of() { local t=0 p; for p in "$@"; do [ -r /proc/$p/stat ] && t=$((t + $(awk '{print $14+$15}' /proc/$p/stat))); done; echo $t; }
udp_drops() { awk '/^Udp:/{ if (h) { print $6; exit } h=1 }' /proc/net/snmp; }   # RcvbufErrors, whole host
sys_ticks() { awk '/^cpu /{b=$2+$3+$4+$7+$8+$9; print b, b+$5+$6}' /proc/stat; }   # busy total
mem_kb() {   # -> "rss_kb pss_kb" of the cw-aio process (one process: all its threads)
  local r s
  r=$(awk '/^VmRSS:/{print $2}' /proc/$SPID/status 2>/dev/null); s=$(awk '/^Pss:/{print $2}' /proc/$SPID/smaps_rollup 2>/dev/null)
  echo "${r:-0} ${s:-0}"
}
mb() { awk -v k="$1" 'BEGIN{printf "%.1f", k/1024}'; }
health() { python3 -c 'import sys, urllib.request as u; print(u.urlopen(sys.argv[1], timeout=3).read().decode())' "http://127.0.0.1:$HSS_PORT/health" 2>/dev/null; }
json_get() { python3 -c 'import json,sys; print(json.loads(sys.argv[1] or "{}").get(sys.argv[2], "?"))' "$1" "$2" 2>/dev/null || echo "?"; }

stop_pid() {   # stop_pid PID [grace_s]
  local p=$1 g=${2:-10} i
  [ -z "$p" ] && return
  kill -0 "$p" 2>/dev/null || return
  kill -TERM "$p" 2>/dev/null
  for ((i=0;i<g*10;i++)); do kill -0 "$p" 2>/dev/null || return; sleep 0.1; done
  kill -KILL "$p" 2>/dev/null
}
stop_tree() {  # PID started by us + its direct children (timeout -> time -> sipp)
  local p=$1 c g; [ -z "$p" ] && return
  for c in $(ps --ppid "$p" -o pid= 2>/dev/null); do
    for g in $(ps --ppid "$c" -o pid= 2>/dev/null); do stop_pid "$g" 3; done
    stop_pid "$c" 3
  done
  stop_pid "$p" 3
}
stop_server() {
  [ -z "$SPID" ] && return
  stop_pid "$SPID" 20
  log "cw-aio (pid $SPID) stopped"
  SPID=""
}
RMEM_RESTORE=""
cleanup() {
  stop_tree "$SIPP_PID"; stop_tree "$UAS_PID"; stop_server; [ -n "$KAM_PID" ] && stop_tree "$KAM_PID"
  if [ -n "$RMEM_RESTORE" ]; then echo "$RMEM_RESTORE" > /proc/sys/net/core/rmem_max && log "net.core.rmem_max restored to $RMEM_RESTORE"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

start_server() {   # -> SPID, STARTUP_MS
  local r
  r=$("${NICE_CMD[@]}" python3 "$LIB" start --port "$PORT" --log "$OUT/cw-aio.log" --timeout 60 -- \
      "$CW_AIO" --set data_dir="$DATA" --set sip_port="$PORT" --set sip_tls_port=$((PORT + 1)) \
      --set hss_port="$HSS_PORT" --set http_port="$HTTP_PORT" --set local_ip=127.0.0.1 \
      --set log_level="${LOG_LEVEL:-debug}" ${CW_AIO_ARGS:-}) || die "cw-aio did not start: $(tail -5 "$OUT/cw-aio.log")"
  read -r SPID STARTUP_MS <<<"$r"
  log "cw-aio started pid $SPID, first 200 OK to OPTIONS after ${STARTUP_MS} ms"
}

printf "%s\n" "test target_rate created ok failed retrans elapsed_s achieved_rate kam_cpu_pct sipp_cpu_pct other_cpu_pct kam_us_per_op avg_rtd_ms p99_rtd_ms pss_kb rss_sum_kb udp_drops" | tr ' ' '\t' > "$RESULTS"

# run_step KIND RATE COUNT  (KIND: fill | reg | reg_half | call); cwd = $OUT
run_step() {
  local kind=$1 rate=$2 count=$3 label="$1_$2" hold=0 tmo extra=()
  local k0 k1 s0 s1 b0 t0 b1 t1 w0 w1 d0
  tmo=$(( count / rate + 15 ))
  [ "$kind" = reg_half ] && extra=(-trace_rtt -rtt_freq 200)
  if [ "$kind" = call ]; then
    hold=$CALL_HOLD_MS
    timeout "$((tmo + 15))" "${NICE_CMD[@]}" /usr/bin/time -f '%U %S' -o "$OUT/$label.uas.time" \
      sipp -sf uas_call.xml -i 127.0.0.1 -p "$UAS_PORT" -m "$count" -nostdin -timeout "$((tmo + 10))" \
      -trace_stat -stf "$OUT/$label.uas.csv" -fd 1 -trace_err -error_file "$OUT/$label.uas.err" \
      > "$OUT/$label.uas.out" 2>&1 < /dev/null &
    UAS_PID=$!
    sleep 0.5
  fi
  read b0 t0 < <(sys_ticks); k0=$(ticks_of $SPID); w0=$(date +%s.%N); d0=$(udp_drops)
  if [ "$kind" = call ]; then
    timeout "$((tmo + 5))" "${NICE_CMD[@]}" /usr/bin/time -f '%U %S' -o "$OUT/$label.time" \
      sipp 127.0.0.1:"$PORT" -sf uac_call.xml -inf calls.csv -i 127.0.0.1 -p "$UAC_PORT" \
      -r "$rate" -m "$count" -d "$CALL_HOLD_MS" -nostdin -timeout "$tmo" \
      -trace_stat -stf "$OUT/$label.csv" -fd 1 -trace_err -error_file "$OUT/$label.err" \
      > "$OUT/$label.out" 2>&1 < /dev/null &
  else
    timeout "$((tmo + 5))" "${NICE_CMD[@]}" /usr/bin/time -f '%U %S' -o "$OUT/$label.time" \
      sipp 127.0.0.1:"$PORT" -sf reg_auth.xml -inf users.csv -key ct_host 127.0.0.1 -key ct_port "$UAS_PORT" \
      -i 127.0.0.1 -p "$REG_PORT" -r "$rate" -m "$count" -nostdin -timeout "$tmo" "${extra[@]}" \
      -trace_stat -stf "$OUT/$label.csv" -fd 1 -trace_err -error_file "$OUT/$label.err" \
      > "$OUT/$label.out" 2>&1 < /dev/null &
  fi
  SIPP_PID=$!
  wait "$SIPP_PID"; SIPP_PID=""
  w1=$(date +%s.%N); k1=$(ticks_of $SPID); read b1 t1 < <(sys_ticks)
  if [ -n "$UAS_PID" ]; then
    local i; for ((i=0;i<50;i++)); do kill -0 "$UAS_PID" 2>/dev/null || break; sleep 0.1; done
    stop_tree "$UAS_PID"; wait "$UAS_PID" 2>/dev/null; UAS_PID=""
  fi
  local st; st=$(python3 "$LIB" stat "$OUT/$label.csv" 2>/dev/null || echo "0 0 0 0 1 0 0")
  local su=0 f; for f in "$OUT/$label.time" "$OUT/$label.uas.time"; do
    [ -f "$f" ] && su=$(awk -v s="$su" 'END{if (NF>=2) print s+$1+$2; else print s}' "$f"); done
  read -r rss pss <<<"$(mem_kb)"
  python3 "$LIB" row "$kind" "$rate" $st "$k0" "$k1" "$b0" "$t0" "$b1" "$t1" "$w0" "$w1" "$su" "$HZ" "$hold" "$pss" "$rss" $(( $(udp_drops) - d0 )) >> "$RESULTS"
  tail -1 "$RESULTS" | tee -a "$OUT/bench.log" >&2
  kill -0 "$SPID" 2>/dev/null || die "cw-aio died during $label, see $OUT/cw-aio.log"
}

users_csv() {   # users_csv FIRST COUNT -> cw-aio import lines
  python3 - "$1" "$2" <<'PY'
import sys
a, n = int(sys.argv[1]), int(sys.argv[2])
sys.stdout.write(''.join(f'sip:{u}@example.com,{u}@example.com,example.com,secret\n' for u in range(a, a + n)))
PY
}

# ================= cw-aio =================
cd "$OUT" || exit 1
cp "$SCN"/reg_auth.xml "$SCN"/reg_overload.xml "$PEER"/uac_call.xml "$PEER"/uas_call.xml "$OUT"/   # sipp writes -trace_rtt files next to the scenario
log "bench dir $WORK; cw-aio $CW_AIO; loadavg $(cut -d' ' -f1-3 /proc/loadavg); nproc $(nproc)"
# Socket buffers. The kernel caps SO_RCVBUF at net.core.rmem_max, 208 kB on a stock Debian 12: SIPp's
# 4 MB -buff_size (the flood's ~30,000 answers/s) and Kamailio's buffers would be cut to that, and so
# would cw-aio's 12 MB unless it has CAP_NET_ADMIN (it then logs a warning). At 208 kB without that,
# cw-aio's 10,000/s REGISTER step lost 2,374 datagrams and failed. So as root the bench raises the limit
# to 4 MB for its run (RAISE_RMEM=0: leave it) and puts it back at exit; otherwise it says what it measures.
RMEM_WANT=4194304
RMEM_NOW=$(cat /proc/sys/net/core/rmem_max 2>/dev/null || echo 0)
if [ "$RMEM_NOW" -lt "$RMEM_WANT" ]; then
  if [ "${RAISE_RMEM:-1}" = 1 ] && [ -w /proc/sys/net/core/rmem_max ] && echo "$RMEM_WANT" > /proc/sys/net/core/rmem_max 2>/dev/null; then
    RMEM_RESTORE=$RMEM_NOW
    log "net.core.rmem_max raised from $RMEM_NOW to $RMEM_WANT for this run (restored at exit)"
  else
    log "WARNING: net.core.rmem_max=$RMEM_NOW caps every socket buffer at $((RMEM_NOW * 2 / 1024)) kB: the load generator (and a cw-aio without CAP_NET_ADMIN) will drop datagrams at high rates; run as root or sysctl -w net.core.rmem_max=$RMEM_WANT"
  fi
else
  log "net.core.rmem_max=$RMEM_NOW"
fi
log "REG_RATES='$REG_RATES' x ${REG_SECS}s, CALL_RATES='$CALL_RATES' x ${CALL_SECS}s hold ${CALL_HOLD_MS}ms, NSUB=$NSUB"

# ---------- 1. provision ----------
users_csv "$BASE_NUM" $((NSUB + 1)) > "$OUT/provision.csv"
t0=$(date +%s%N)
"$CW_AIO" subscriber import "$OUT/provision.csv" --set data_dir="$DATA" > "$OUT/import.log" 2>&1 \
  || die "subscriber import failed: $(tail -3 "$OUT/import.log")"
log "provisioned $((NSUB + 1)) subscribers in $(( ($(date +%s%N) - t0) / 1000000 )) ms: $(tail -1 "$OUT/import.log")"
python3 - "$NSUB" "$BASE_NUM" "$CALLER" <<'PY'
import sys
n, b, caller = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
with open('users.csv', 'w') as f:
    f.write('SEQUENTIAL\n'); [f.write(f'{b + i};secret\n') for i in range(n)]
with open('caller.csv', 'w') as f:
    f.write(f'SEQUENTIAL\n{caller};secret\n')
with open('calls.csv', 'w') as f:    # callee;caller -- every call comes from the one registered caller
    f.write('SEQUENTIAL\n'); [f.write(f'{b + (i + n // 2) % n};{caller}\n') for i in range(n)]
PY

# ---------- 2. start ----------
start_server
STARTUP_FIRST_MS=$STARTUP_MS
sleep 2
read -r IDLE_RSS IDLE_PSS <<<"$(mem_kb)"
log "idle: rss=${IDLE_RSS}kB pss=${IDLE_PSS}kB ($(grep -E '^Rss(Anon|File):' /proc/$SPID/status | tr -s ' \t\n' ' ')) health=$(health)"

# ---------- 3. register all subscribers (Contacts -> UAS port) ----------
run_step fill "$FILL_RATE" "$NSUB"
sleep 1
read -r REG_RSS REG_PSS <<<"$(mem_kb)"
H=$(health); NBIND=$(json_get "$H" bindings)
log "after $NSUB registrations (bindings=$NBIND): rss=${REG_RSS}kB pss=${REG_PSS}kB health=$H"
[ "$NBIND" = "$NSUB" ] || log "WARNING: expected $NSUB bindings, /health says $NBIND"
SETTLED_RSS=""
if [ "$SETTLE_S" -gt 0 ]; then
  sleep "$SETTLE_S"
  read -r SETTLED_RSS SETTLED_PSS <<<"$(mem_kb)"
  log "${SETTLE_S}s later (finished transactions expired): rss=${SETTLED_RSS}kB pss=${SETTLED_PSS}kB anon=$(awk '/^RssAnon:/{print $2}' /proc/$SPID/status)kB health=$(health)"
fi

# ---------- 4. REGISTER steps (ramp until a step fails) ----------
for r in $REG_RATES; do
  [ $(( $(date +%s) - T_START )) -gt "$BUDGET_S" ] && { log "time budget reached, skipping reg $r"; continue; }
  run_step reg "$r" $(( r * REG_SECS )); sleep 1
  python3 "$LIB" passed "$RESULTS" || { log "cw-aio: reg $r did not pass; ramp stops"; break; }
done
REG_PEAK=$(python3 "$LIB" peak "$RESULTS" reg)
HALF=$(( REG_PEAK / 2 )); P99_HALF=n/a
if [ "$HALF" -gt 0 ]; then
  rm -f "$OUT"/*_rtt.csv
  sleep 4    # let cw-aio drain what the failing step left queued
  run_step reg_half "$HALF" $(( HALF * REG_SECS )); sleep 1
  RTT_FILES=$(ls "$OUT"/*_rtt.csv 2>/dev/null)
  if [ -n "$RTT_FILES" ]; then
    read -r RTT_N RTT_AVG RTT_P50 P99_HALF RTT_MAX <<<"$(python3 "$LIB" rtt $RTT_FILES)"
    log "REGISTER at ${HALF}/s: $RTT_N response times, avg ${RTT_AVG} ms, p50 ${RTT_P50} ms, p99 ${P99_HALF} ms, max ${RTT_MAX} ms"
  fi
fi

# ---------- 4b. overload: 3x the peak REGISTER rate (admission control must keep goodput up) ----------
# overload_step NAME: offers 3x REG_PEAK initial REGISTERs/s for REG_SECS to the running server and sets
# OV_LINE ("NAME offered_rps=... goodput_rps=..."). Rates are over the seconds the flood was offered
# (benchlib counts): what finishes or times out after it is neither load nor goodput. SIPp gets a 4 MB
# socket buffer (-buff_size; the kernel caps it at net.core.rmem_max): with the default 128 kB, SIPp's
# own socket overflowed at ~30,000 answers/s (365,000 answers dropped in 10 s), and each lost 503 or
# 401 came back as a retransmission, a third of all that reached the server. The load generator must
# not be the bottleneck it measures.
overload_step() {
  local name=$1 rate=$(( REG_PEAK * 3 )) n k0 k1 w0 w1 rss0 rss1 log0 cf sent r503 ok el ok_all retr p99 h scpu
  n=$(( rate * REG_SECS ))
  rm -f "$OUT"/reg_overload_*_counts.csv "$OUT"/*_rtt.csv
  read -r rss0 _ <<<"$(mem_kb)"
  log0=$(wc -l < "$OUT/cw-aio.log")
  k0=$(ticks_of $SPID); w0=$(date +%s.%N)
  log "$name step: offering ${rate} REGISTER/s (3x the ${REG_PEAK}/s peak) for ${REG_SECS}s"
  timeout $(( REG_SECS * 3 + 40 )) nice -n "$FLOOD_NICE" /usr/bin/time -f '%U %S' -o "$OUT/$name.time" sipp 127.0.0.1:"$PORT" -sf reg_overload.xml -inf users.csv \
    -key ct_host 127.0.0.1 -key ct_port "$UAS_PORT" -i 127.0.0.1 -p "$REG_PORT" -r "$rate" -m "$n" -nostdin -buff_size "$RMEM_WANT" \
    -timeout $(( REG_SECS * 3 + 30 )) -trace_counts -trace_rtt -rtt_freq 200 -trace_stat -stf "$OUT/$name.csv" -fd 1 \
    -trace_err -error_file "$OUT/$name.err" > "$OUT/$name.out" 2>&1 < /dev/null
  w1=$(date +%s.%N); k1=$(ticks_of $SPID)
  sleep 1
  read -r rss1 _ <<<"$(mem_kb)"
  cf=$(ls "$OUT"/reg_overload_*_counts.csv 2>/dev/null | head -1)
  if [ -z "$cf" ]; then
    log "$name step: sipp wrote no counts (see $OUT/$name.out)"
    OV_LINE="$name n/a"
    return
  fi
  cp "$cf" "$OUT/$name.counts.csv"
  read -r sent r503 ok el ok_all retr <<<"$(python3 "$LIB" counts "$cf")"
  p99=n/a; RTT_FILES=$(ls "$OUT"/*_rtt.csv 2>/dev/null)
  [ -n "$RTT_FILES" ] && p99=$(python3 "$LIB" rtt $RTT_FILES | awk '{print $4}')
  h=$(health)
  scpu=$(awk -v w0="$w0" -v w1="$w1" 'END{if (NF>=2) printf "%.0f", 100*($1+$2)/(w1-w0); else print "n/a"}' "$OUT/$name.time" 2>/dev/null)
  OV_LINE=$(awk -v name="$name" -v s="$sent" -v r="$r503" -v g="$ok" -v e="$el" -v peak="$REG_PEAK" -v rt="$retr" \
    -v cpu="$(awk -v a="$k0" -v b="$k1" -v hz="$HZ" -v w0="$w0" -v w1="$w1" 'BEGIN{printf "%.0f", 100*(b-a)/hz/(w1-w0)}')" \
    -v scpu="$scpu" -v p99="$p99" -v m0="$rss0" -v m1="$rss1" -v f="$(python3 "$LIB" stat "$OUT/$name.csv" 2>/dev/null | awk '{print $3}')" \
    'BEGIN{printf "%s offered_rps=%.0f goodput_rps=%.0f goodput_pct_of_peak=%.0f refused_503=%d retransmitted=%d failed_calls=%s server_cpu_pct=%s sipp_cpu_pct=%s p99_admitted_ms=%s rss_mb_before=%.1f rss_mb_after=%.1f", name, s/e, g/e, 100*g/e/peak, r, rt, f, cpu, scpu, p99, m0/1024, m1/1024}')
  log "$OV_LINE; over the ${el}s of the flood ($ok_all 200 OKs in all); /health $h"
  # The controller's rate decisions during the step (debug level): how often it was behind, and the
  # range of rate and cost it went through, so a poor figure can be told from a noisy machine.
  tail -n +$((log0 + 1)) "$OUT/cw-aio.log" | grep -o 'overload control: rate .*' | awk -v name="$name" '
    { n++; split($0, w, " "); r = w[6] + 0; if (n == 1 || r < rmin) rmin = r; if (r > rmax) rmax = r
      if ($0 ~ /behind=true/) b++
      if (match($0, /cost_us=-?[0-9]+/)) { c = substr($0, RSTART + 8, RLENGTH - 8) + 0; if (c > cmax) cmax = c }
      if (match($0, /queue_ms=[0-9]+/)) { q = substr($0, RSTART + 9, RLENGTH - 9) + 0; if (q > qmax) qmax = q } }
    END { if (n) printf "%s step controller: %d rate changes, %d behind, rate %d-%d/s, cost_us up to %d, queue_ms up to %d (window lines in cw-aio.log)\n", name, n, b, rmin, rmax, cmax, qmax
          else print name " step controller: no rate decisions logged (LOG_LEVEL below debug?)" }' \
    | while read -r line; do log "$line"; done
  # a 503 without Retry-After fails its call (the scenario's ereg check_it): see failed_calls
  grep -m1 -i "retry" "$OUT/$name.err" 2>/dev/null && log "WARNING: a 503 lacked Retry-After (see $OUT/$name.err)"
}
OV_LINE=""; OV_WARM_LINE=""; OV_COLD_LINE=""
if [ "$REG_PEAK" -gt 0 ] && [ "$OVERLOAD" = 1 ]; then
  sleep "$OV_WAIT"
  overload_step overload
fi
OV_WARM_LINE=$OV_LINE

# ---------- 5. calls (ramp until a step fails) ----------
if [ -n "$CALL_RATES" ]; then
  for r in $CALL_RATES; do
    [ $(( $(date +%s) - T_START )) -gt "$BUDGET_S" ] && { log "time budget reached, skipping call $r"; continue; }
    # the caller's flow: REGISTER from the UAC socket itself (refreshed before every step, expiry <= 300 s)
    timeout 20 sipp 127.0.0.1:"$PORT" -sf reg_auth.xml -inf caller.csv -key ct_host 127.0.0.1 \
      -key ct_port "$UAC_PORT" -i 127.0.0.1 -p "$UAC_PORT" -m 1 -nostdin -timeout 10 \
      > "$OUT/caller_reg_$r.out" 2>&1 < /dev/null || die "the caller could not register from port $UAC_PORT (see $OUT/caller_reg_$r.out)"
    run_step call "$r" $(( r * CALL_SECS )); sleep 2
    python3 "$LIB" passed "$RESULTS" || { log "cw-aio: call $r did not pass; ramp stops"; break; }
  done
fi
read -r END_RSS END_PSS <<<"$(mem_kb)"
log "end: rss=${END_RSS}kB pss=${END_PSS}kB health=$(health)"
# The last steps' transactions (INVITE Accepted and non-INVITE Completed: 32 s each) are still live at
# "end"; memory must come back once they expire, not stay at the high-water mark.
END_SETTLED_RSS=""
if [ "$SETTLE_S" -gt 0 ]; then
  sleep "$SETTLE_S"
  read -r END_SETTLED_RSS _ <<<"$(mem_kb)"
  log "end + ${SETTLE_S}s: rss=${END_SETTLED_RSS}kB anon=$(awk '/^RssAnon:/{print $2}' /proc/$SPID/status)kB health=$(health)"
fi
stop_server

# ---------- 6. restart with the data of the run; subscribers up to NSUB_BIG ----------
RSS_BIG=""; STARTUP_BIG_MS=""
start_server
STARTUP_RESTART_MS=$STARTUP_MS
stop_server
if [ "$NSUB_BIG" -gt $((NSUB + 1)) ]; then
  users_csv $((BASE_NUM + NSUB + 1)) $((NSUB_BIG - NSUB - 1)) > "$OUT/provision_big.csv"
  t0=$(date +%s%N)
  "$CW_AIO" subscriber import "$OUT/provision_big.csv" --set data_dir="$DATA" > "$OUT/import_big.log" 2>&1 \
    || die "subscriber import failed: $(tail -3 "$OUT/import_big.log")"
  log "imported $((NSUB_BIG - NSUB - 1)) more subscribers in $(( ($(date +%s%N) - t0) / 1000000 )) ms"
  start_server
  STARTUP_BIG_MS=$STARTUP_MS
  sleep 3
  read -r BIG_RSS BIG_PSS <<<"$(mem_kb)"
  RSS_BIG=$(mb "$BIG_RSS")
  log "with $NSUB_BIG subscribers (bindings from the run still stored): rss=${BIG_RSS}kB pss=${BIG_PSS}kB health=$(health)"
fi
# ---------- 7. the same flood on a server just started (every phone re-registering after a restart) ----------
# Nothing learned yet: no cost per request, the admission rate at its initial value (~2x the peak).
if [ "$REG_PEAK" -gt 0 ] && [ "$OVERLOAD" = 1 ]; then
  [ -n "$SPID" ] || { start_server; sleep 3; }
  overload_step overload_cold
  OV_COLD_LINE=$OV_LINE
fi
stop_server
T_CW=$(( $(date +%s) - T_START ))

# ================= Kamailio (reference, same rates) =================
KAM_REG=""; KAM_CPS=""; KAM_KB=""; KAM_RESULTS=""
if [ "$KAMAILIO" = 1 ]; then
  log "running $PEER/bench_kamailio.sh with the same rates"
  mkdir -p "$WORK/kamailio"
  BASE="$WORK/kamailio" OUT="$WORK/kamailio/logs" PORT="$KAM_PORT" UAS_PORT="$KAM_UAS_PORT" \
    REG_PORT="$KAM_REG_PORT" UAC_PORT="$KAM_UAC_PORT" NSUB="$NSUB" NICE="$NICE" \
    REG_RATES="$REG_RATES" REG_SECS="$REG_SECS" CALL_RATES="$CALL_RATES" CALL_SECS="$CALL_SECS" \
    CALL_HOLD_MS="$CALL_HOLD_MS" timeout 600 bash "$PEER/bench_kamailio.sh" \
    > "$WORK/kamailio.out" 2> "$WORK/kamailio.err" < /dev/null &
  KAM_PID=$!
  wait "$KAM_PID"; KAM_RC=$?; KAM_PID=""
  LINE=$(grep -E '^register_tps=' "$WORK/kamailio.out" | tail -1)
  if [ -z "$LINE" ]; then
    log "bench_kamailio.sh failed (rc $KAM_RC):"; tail -15 "$WORK/kamailio.err" >&2
  else
    KAM_REG=$(sed -E 's/.*register_tps=([0-9]+).*/\1/' <<<"$LINE")
    KAM_CPS=$(sed -E 's/.*calls_cps=([0-9]+).*/\1/' <<<"$LINE")
    KAM_KB=$(sed -E 's/.*rss_kb=([0-9]+).*/\1/' <<<"$LINE")
    KAM_RESULTS="kamailio=$WORK/kamailio/logs/results.tsv"
  fi
fi

# ================= summary =================
echo
python3 "$LIB" table "cw-aio=$RESULTS" $KAM_RESULTS
CW_REG=$(python3 "$LIB" peak "$RESULTS" reg)
CW_CPS=$(python3 "$LIB" peak "$RESULTS" call)
ratio() { [ -n "$2" ] && [ "$2" != 0 ] && awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", a/b}' || echo n/a; }
BUSY=$(awk -F'\t' 'FNR>1 && $11+0>m {m=$11+0} END{print m+0}' "$RESULTS" ${KAM_RESULTS:+"${KAM_RESULTS#kamailio=}"})
echo "details: bench_dir=$WORK cw_aio_s=$T_CW total_s=$(( $(date +%s) - T_START )) startup_first_start_ms=$STARTUP_FIRST_MS" \
     "startup_restart_ms=$STARTUP_RESTART_MS${STARTUP_BIG_MS:+ startup_${NSUB_BIG}_subscribers_ms=$STARTUP_BIG_MS}" \
     "idle_pss_mb=$(mb "$IDLE_PSS") reg_pss_mb=$(mb "$REG_PSS") end_rss_mb=$(mb "$END_RSS")${END_SETTLED_RSS:+ end_rss_mb_after_${SETTLE_S}s=$(mb "$END_SETTLED_RSS")}" \
     "kamailio_pss_mb_after_${NSUB}_reg=${KAM_KB:+$(mb "$KAM_KB")} loadavg=$(cut -d' ' -f1-3 /proc/loadavg)"
[ "$BUSY" -gt 30 ] && echo "WARNING: other processes used up to ${BUSY}% of a core during a step; rates are lower bounds (see other_cpu%)"
echo "register_tps cw-aio=$CW_REG kamailio=${KAM_REG:-n/a} ratio=$(ratio "$CW_REG" "$KAM_REG")"
echo "calls_cps cw-aio=$CW_CPS kamailio=${KAM_CPS:-n/a} ratio=$(ratio "$CW_CPS" "$KAM_CPS")"
# Why the ratios are what they are: CPU per operation (efficiency) and cores used (parallelism) at each
# server's best passing step. cw-aio runs SIP on one event loop; Kamailio on 4 UDP worker processes.
for kind in reg call; do
  read -r CW_US CW_CORES <<<"$(python3 "$LIB" cost "$RESULTS" $kind)"
  KAM_US=n/a; KAM_CORES=n/a
  [ -n "$KAM_RESULTS" ] && read -r KAM_US KAM_CORES <<<"$(python3 "$LIB" cost "${KAM_RESULTS#kamailio=}" $kind)"
  echo "${kind}_server_cpu at_peak cw-aio_us_per_op=$CW_US cw-aio_cores=$CW_CORES kamailio_us_per_op=$KAM_US kamailio_cores=$KAM_CORES"
done
echo "rss_mb idle=$(mb "$IDLE_RSS") after_$((NSUB / 1000))k_registrations=$(mb "$REG_RSS")${SETTLED_RSS:+ settled_after_${SETTLE_S}s=$(mb "$SETTLED_RSS")}"
[ -n "$RSS_BIG" ] && echo "rss_mb_$((NSUB_BIG / 1000))k_subscribers=$RSS_BIG"
echo "register_p99_ms at_half_peak=$P99_HALF"
echo "startup_ms=$STARTUP_FIRST_MS"
[ -n "$OV_WARM_LINE" ] && echo "$OV_WARM_LINE"
[ -n "$OV_COLD_LINE" ] && echo "$OV_COLD_LINE"
