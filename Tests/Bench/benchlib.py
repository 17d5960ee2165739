#!/usr/bin/env python3
"""Helpers for Tests/Bench/bench.sh (standard library only).

  start --port P --log FILE [--timeout S] -- CMD...
        Starts CMD in its own session (stdin /dev/null, stdout+stderr to FILE), polls it with SIP
        OPTIONS over UDP (127.0.0.1:P) and prints "PID STARTUP_MS" once the first 200 OK arrives
        (STARTUP_MS = from just before fork/exec to that 200). The server keeps running; the caller
        stops it by PID. Exit 1 (server killed) if it dies or does not answer within S seconds.
  stat CSV                     sipp -trace_stat file -> "created ok failed retrans elapsed_s avg_ms p99_ms"
  rtt FILE...                  sipp -trace_rtt files -> "count avg_ms p50_ms p99_ms max_ms" (exact, 1st rtd)
  row KIND RATE STAT(7) K0 K1 B0 T0 B1 T1 W0 W1 SIPP_S HZ HOLD_MS PSS_KB RSS_KB UDP_DROPS
                               one results.tsv line (bench_kamailio.sh's results.tsv columns + udp_drops)
  peak RESULTS KIND            highest achieved rate of a KIND step with 0 failed and >= 95 % of its target
  passed RESULTS               exit 0 if the last line of RESULTS passes that rule
  table LABEL=RESULTS...       the per-phase comparison tables
"""
import csv
import os
import socket
import subprocess
import sys
import time
import uuid

COLS = ["test", "target_rate", "created", "ok", "failed", "retrans", "elapsed_s", "achieved_rate",
        "kam_cpu_pct", "sipp_cpu_pct", "other_cpu_pct", "kam_us_per_op", "avg_rtd_ms", "p99_rtd_ms",
        "pss_kb", "rss_sum_kb"]


def options(port, lport, n):
    cid = uuid.uuid4().hex
    return (f"OPTIONS sip:127.0.0.1:{port} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:{lport};branch=z9hG4bK{cid[:16]}{n};rport\r\n"
            f"Max-Forwards: 70\r\nFrom: <sip:probe@127.0.0.1>;tag={cid[16:24]}\r\n"
            f"To: <sip:127.0.0.1:{port}>\r\nCall-ID: {cid}@bench\r\nCSeq: {n} OPTIONS\r\n"
            f"Content-Length: 0\r\n\r\n").encode()


def start(argv):
    port = log = None
    timeout = 60.0
    while argv and argv[0] != "--":
        k, v, argv = argv[0], argv[1], argv[2:]
        if k == "--port":
            port = int(v)
        elif k == "--log":
            log = v
        elif k == "--timeout":
            timeout = float(v)
    cmd = argv[1:]
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.connect(("127.0.0.1", port))       # connected: ICMP port-unreachable -> ECONNREFUSED at once
    lport = s.getsockname()[1]
    out = open(log, "ab")
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                         start_new_session=True)
    n = 0
    while time.monotonic() - t0 < timeout:
        if p.poll() is not None:
            print(f"server exited with {p.returncode} before answering OPTIONS, see {log}", file=sys.stderr)
            sys.exit(1)
        n += 1
        try:
            s.send(options(port, lport, n))
            s.settimeout(0.005)
            while True:
                data = s.recv(65535)
                if data.startswith(b"SIP/2.0 200"):
                    print(p.pid, int(round((time.monotonic() - t0) * 1000)))
                    return
        except (ConnectionRefusedError, socket.timeout):
            time.sleep(0.001)
    print(f"server did not answer OPTIONS on 127.0.0.1:{port} within {timeout:.0f} s, see {log}", file=sys.stderr)
    p.kill()
    sys.exit(1)


def stat(path):
    rows = list(csv.reader(open(path), delimiter=';'))
    h, last = rows[0], rows[-1]
    g = lambda n: last[h.index(n)] if n in h else '0'
    ep = lambda v: float(v.split('\t')[-1])
    el = ep(last[h.index('CurrentTime')]) - ep(last[h.index('StartTime')])
    rtd, p99 = '0', '0'
    for n in h:   # average response time (1 ms resolution), hh:mm:ss:usec
        if n.startswith('ResponseTime') and n.endswith('(C)') and 'StDev' not in n:
            t = g(n).split(':')
            rtd = '%.1f' % ((int(t[0]) * 3600 + int(t[1]) * 60 + int(t[2])) * 1000 + int(t[3]) / 1000.0)
            break
    # p99 = smallest ResponseTimeRepartition bound covering 99 % (the method of bench_kamailio.sh)
    b = [(n, int(last[i] or 0)) for i, n in enumerate(h) if n.startswith('ResponseTimeRepartition') and '_' in n]
    tot = sum(c for _, c in b)
    acc = 0
    for n, c in b:
        acc += c
        if tot and acc >= 0.99 * tot:
            p99 = n.split('_', 1)[1]
            break
    created, ok, failed = int(g('TotalCallCreated')), int(g('SuccessfulCall(C)')), int(g('FailedCall(C)'))
    # calls still open when sipp stopped (its -timeout) are failures too; sipp counts them nowhere
    print(created, ok, max(failed, created - ok), g('Retransmissions(C)'), '%.3f' % el, rtd, p99)


def rtt(paths):
    v = []
    for path in paths:
        for line in open(path):
            f = line.strip().split(';')
            if len(f) >= 3 and f[2] in ('1', 'reg'):   # date_ms;response_time_ms;rtd_no
                try:
                    v.append(float(f[1]))
                except ValueError:
                    pass
    if not v:
        print("0 0 0 0 0")
        return
    v.sort()
    q = lambda p: v[min(len(v) - 1, int(p * len(v)))]
    print(len(v), '%.2f' % (sum(v) / len(v)), '%.2f' % q(0.5), '%.2f' % q(0.99), '%.2f' % v[-1])


def row(a):
    kind, rate = a[0], int(a[1])
    created, ok, failed, retr, el, rtd, p99 = int(a[2]), int(a[3]), int(a[4]), int(a[5]), float(a[6]), a[7], a[8]
    k0, k1, b0, t0, b1, t1 = map(int, a[9:15])
    w0, w1, su, hz = float(a[15]), float(a[16]), float(a[17]), int(a[18])
    hold, pss, rss = int(a[19]) / 1000.0, a[20], a[21]
    drops = a[22] if len(a) > 22 else '-'
    wall = max(w1 - w0, 0.001)
    srv = (k1 - k0) / hz
    busy = (b1 - b0) / hz
    other = max(0.0, busy - srv - su)
    ach = ok / max(el - hold, 0.001)
    print(f"{kind}\t{rate}\t{created}\t{ok}\t{failed}\t{retr}\t{el:.2f}\t{ach:.0f}\t{100*srv/wall:.0f}\t"
          f"{100*su/wall:.0f}\t{100*other/wall:.0f}\t{(1e6*srv/ok if ok else 0):.0f}\t{rtd}\t{p99}\t{pss}\t{rss}\t{drops}")


def load(path):
    try:
        rows = list(csv.reader(open(path), delimiter='\t'))
    except OSError:
        return []
    if not rows:
        return []
    h = rows[0]
    return [dict(zip(h, r)) for r in rows[1:] if len(r) == len(h)]


def passes(r):
    return int(r['failed']) == 0 and float(r['achieved_rate']) >= 0.95 * float(r['target_rate'])


def best(path, kind):
    """The passing step of this kind with the highest achieved rate, or None."""
    rows = [r for r in load(path) if r['test'] == kind and passes(r)]
    return max(rows, key=lambda r: float(r['achieved_rate']), default=None)


def peak(path, kind):
    r = best(path, kind)
    print(int(float(r['achieved_rate'])) if r else 0)


def cost(path, kind):
    """At the highest passing step: server CPU per operation (us) and cores the server used."""
    r = best(path, kind)
    print(f"{r['kam_us_per_op']} {float(r['kam_cpu_pct']) / 100:.2f}" if r else 'n/a n/a')


def table(specs):
    data = []
    for spec in specs:
        label, path = spec.split('=', 1)
        data += [(label, r) for r in load(path)]
    phases = [("fill", "REGISTER+digest, provisioning fill (not counted)"),
              ("reg", "REGISTER+digest (401 then 200) steps"),
              ("reg_half", "REGISTER+digest at half the cw-aio peak"),
              ("call", "calls: INVITE/100/180/200/ACK, hold, BYE/200")]
    hdr = ["server", "target/s", "achieved/s", "ok", "failed", "retrans", "server_cpu%", "sipp_cpu%",
           "other_cpu%", "server_us/op", "avg_ms", "p99_ms", "udp_drops", "pass"]
    for kind, title in phases:
        rows = [(label, r) for label, r in data if r['test'] == kind]
        if not rows:
            continue
        rows.sort(key=lambda x: (int(x[1]['target_rate']), x[0]))
        lines = [hdr] + [[label, r['target_rate'], r['achieved_rate'], r['ok'], r['failed'], r['retrans'],
                          r['kam_cpu_pct'], r['sipp_cpu_pct'], r['other_cpu_pct'], r['kam_us_per_op'],
                          r['avg_rtd_ms'], r['p99_rtd_ms'] if r['p99_rtd_ms'] not in ('0', '') else '-',
                          r.get('udp_drops', '-'),
                          'yes' if passes(r) else 'NO'] for label, r in rows]
        w = [max(len(x[i]) for x in lines) for i in range(len(hdr))]
        print(f"== {title} ==")
        for x in lines:
            print("  ".join(c.rjust(w[i]) if i else c.ljust(w[i]) for i, c in enumerate(x)).rstrip())
        print()


def counts(path):
    """sipp -trace_counts file of reg_overload.xml (a row a second, cumulative) -> 'first_sent
    refused_503 ok_200 offering_s ok_200_total first_retrans': the counts up to the last row in which
    new REGISTERs were still being sent, and its elapsed time. Goodput is what the server completed
    while the flood lasted; the seconds after it, when the last calls finish or wait out their
    retransmissions, are neither offered load nor overload. ok_200_total: the 200s of the whole run."""
    rows = list(csv.reader(open(path), delimiter=';'))
    h = rows[0]
    def col(row, suffix):
        return next((int(row[i] or 0) for i, n in enumerate(h) if n.endswith(suffix)), 0)
    def elapsed(row):
        t = row[h.index('ElapsedTime')].split(':')
        return int(t[0]) * 3600 + int(t[1]) * 60 + int(t[2]) + int(t[3]) / 1e6
    data = rows[1:]
    total = data[-1]
    # the last row whose first REGISTER count still grew (sending stopped within the second after it)
    end = total
    for prev, row in zip(data, data[1:]):
        if col(row, '0_REGISTER_Sent') > col(prev, '0_REGISTER_Sent'):
            end = row
    print(col(end, '0_REGISTER_Sent'), col(end, '_503_Recv'), col(end, '_200_Recv'), f"{elapsed(end):.3f}",
          col(total, '_200_Recv'), col(end, '0_REGISTER_Retrans'))


def main():
    cmd, a = sys.argv[1], sys.argv[2:]
    if cmd == "start":
        start(a)
    elif cmd == "stat":
        stat(a[0])
    elif cmd == "counts":
        counts(a[0])
    elif cmd == "rtt":
        rtt(a)
    elif cmd == "row":
        row(a)
    elif cmd == "peak":
        peak(a[0], a[1])
    elif cmd == "cost":
        cost(a[0], a[1])
    elif cmd == "passed":
        rows = load(a[0])
        sys.exit(0 if rows and passes(rows[-1]) else 1)
    elif cmd == "table":
        table(a)
    else:
        sys.exit(f"unknown command {cmd}")


if __name__ == "__main__":
    main()
