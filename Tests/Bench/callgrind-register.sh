#!/bin/bash
# Tests/Bench/callgrind-register.sh -- instructions per REGISTER+digest pair on cw-aio's SIP thread,
# counted by valgrind's callgrind: a figure that does not move with the machine's other load (these
# VMs have no hardware counters for `perf stat`, and wall-clock CPU per request varies ±10 % between
# runs), so a change of a few percent on the hot path can be seen and kept or dropped.
#
#   Tests/Bench/callgrind-register.sh [BINARY...]   (default: .build/release/cw-aio; needs valgrind, sipp)
#
# The server gets the malloc tunable it would set itself (MallocTuning: it does not re-execute under
# valgrind). For each binary: a copy without DWARF (valgrind 3.19 cannot read the Swift 6 debug info), started
# under callgrind on a fresh data directory with USERS subscribers, a warm-up of 200 pairs, counters
# zeroed, RUNS measured runs of PAIRS pairs at RATE/s (slow: everything runs ~50x slower under
# valgrind), each dumped and reported as Ir/pair of the busiest thread (the SIP event loop) and of
# the whole process. The annotated profile of the last run is left in the work directory:
#   callgrind_annotate --inclusive=yes --threshold=100 <dir>/callgrind.out.<pid>.<n>-<tid> | swift demangle
# Knobs: RATE=40 PAIRS=600 RUNS=2 USERS=2000 PORT=5770 WORK=<new /tmp/cw-aio-cg.XXXX>
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
RATE=${RATE:-40}; PAIRS=${PAIRS:-600}; RUNS=${RUNS:-2}; USERS=${USERS:-2000}; PORT=${PORT:-5770}
WORK=${WORK:-$(mktemp -d /tmp/cw-aio-cg.XXXX)}
for b in valgrind callgrind_control sipp python3 strip cc; do
  command -v $b >/dev/null || { echo "missing $b (apt-get install valgrind sip-tester binutils)" >&2; exit 1; }; done
[ $# -gt 0 ] || set -- "$REPO/.build/release/cw-aio"

python3 - "$WORK" "$USERS" <<'PY'
import sys
work, n = sys.argv[1], int(sys.argv[2])
with open(f"{work}/subscribers.csv", "w") as f:
    for i in range(n):
        num = 6505550000 + i
        f.write(f"sip:{num}@example.com,{num}@example.com,example.com,secret\n")
with open(f"{work}/users.csv", "w") as f:
    f.write("SEQUENTIAL\n")
    for i in range(n): f.write(f"{6505550000 + i};secret\n")
PY

# Valgrind 3.19 (Debian 12) edits the mask rt_sigsuspend is given in place, and libdispatch passes a
# mask in read-only memory (the parked main thread of an async `main`): valgrind itself dies of
# SIGSEGV at start. This preload hands the kernel a writable copy; nothing else changes.
cat > "$WORK/sigsuspend-copy.c" <<'C'
#define _GNU_SOURCE
#include <signal.h>
#include <unistd.h>
#include <sys/syscall.h>
int sigsuspend(const sigset_t *mask) { sigset_t copy = *mask; return (int)syscall(SYS_rt_sigsuspend, &copy, 8); }
C
cc -O2 -shared -fPIC -o "$WORK/sigsuspend-copy.so" "$WORK/sigsuspend-copy.c" || exit 1

sipp_run() {   # RATE COUNT -> sipp's stat line (created ok failed retrans ...)
  sipp 127.0.0.1:$PORT -sf "$HERE/scenarios/reg_auth.xml" -inf "$WORK/users.csv" -key ct_host 127.0.0.1 \
    -key ct_port $((PORT + 20)) -i 127.0.0.1 -p $((PORT + 21)) -r "$1" -m "$2" -nostdin -timeout $(( $2 / $1 + 30 )) \
    -trace_stat -stf "$WORK/stat.csv" > "$WORK/sipp.out" 2>&1
  rm -f "$WORK"/stat.csv.*; python3 "$HERE/benchlib.py" stat "$WORK/stat.csv"
}

for bin in "$@"; do
  name=$(basename "$bin")
  cp "$bin" "$WORK/$name.nodbg" && strip -g "$WORK/$name.nodbg"
  data="$WORK/data-$name"; rm -rf "$data"; mkdir -p "$data"
  "$bin" subscriber import "$WORK/subscribers.csv" --set data_dir="$data" > "$WORK/import.log" 2>&1 \
    || { echo "import failed: $(tail -1 "$WORK/import.log")" >&2; exit 1; }
  (cd "$WORK" && LD_PRELOAD="$WORK/sigsuspend-copy.so" GLIBC_TUNABLES="${GLIBC_TUNABLES:-glibc.malloc.tcache_count=256}" exec valgrind --tool=callgrind --dump-instr=no --separate-threads=yes "$WORK/$name.nodbg" \
     --set data_dir="$data" --set sip_port=$PORT --set sip_tls_port=$((PORT + 1)) --set hss_port=$((PORT + 3000)) \
     --set http_port=$((PORT + 3001)) --set local_ip=127.0.0.1 --set log_level=notice > "$WORK/server.log" 2>&1) &
  pid=$!
  for _ in $(seq 120); do
    python3 -c 'import sys,urllib.request as u; u.urlopen(sys.argv[1], timeout=1)' "http://127.0.0.1:$((PORT + 3000))/health" \
      2>/dev/null && break; sleep 1; done
  echo "$name: warm-up $(sipp_run 50 200)"
  for r in $(seq "$RUNS"); do
    callgrind_control -z $pid > /dev/null 2>&1
    st=$(sipp_run "$RATE" "$PAIRS")
    callgrind_control -d "run$r" $pid > /dev/null 2>&1; sleep 3
    files=$(ls "$WORK"/callgrind.out.$pid.$r-* 2>/dev/null)
    sip=$(for f in $files; do grep '^summary:' "$f" | cut -d' ' -f2; done | sort -rn | head -1)
    all=$(for f in $files; do grep '^summary:' "$f" | cut -d' ' -f2; done | awk '{s += $1} END {print s}')
    echo "$name: run $r sipp[created ok failed retrans elapsed avg p99]=$st" \
      "sip_thread_Ir/pair=$((sip / PAIRS)) process_Ir/pair=$((all / PAIRS))"
  done
  kill $pid; wait $pid 2>/dev/null
done
echo "work directory: $WORK"
