"""Issue 5 robustness: kill -9 under load. sipp registers subscribers while several CLI processes
provision into the same database (`subscriber add` loops and big `subscriber import` files); then the
server AND an import in progress get SIGKILL, at three different moments. Afterwards the database must
pass `PRAGMA integrity_check`, hold no half-created subscriber, hold each import entirely or not at
all, hold every subscriber whose `add` reported success, and every registration that was answered
200 OK before the kill must still be there, in the bindings table and for the restarted server.

Nothing here asserts on timings: the moments are chosen by watching what the processes did (a number
of acknowledged registrations, bytes the import has written), and whatever happened before the kill
is what the assertions then hold the database to."""
import os
import re
import signal
import sqlite3
import subprocess
import threading
import time
from urllib.parse import quote

from conftest import BIN, CwAio, header, status_of
from sipua import UA, headers_all
from test_registration import REG_AUTH, cli, http

PORT = 5290
SIPP_PORT = 5407
REG_BASE = 6505600000      # registered by sipp: SLICE users per round
SLICE = 600
ADD_BASE = 6505610000      # `subscriber add`, per round and adder
IMPORT_BASE = 6505700000   # `subscriber import`, IMPORT_ROWS per file
IMPORT_ROWS = 30000
ADDERS = 3


def sqlite(db, sql):
    r = subprocess.run(["sqlite3", "-batch", "-bail", db, sql], capture_output=True, timeout=120)
    assert r.returncode == 0, (sql, r.stderr.decode())
    return r.stdout.decode()


def rows(db, sql):
    return [line.split("|") for line in sqlite(db, sql).splitlines() if line]


def write_import(path, base, count, pairs=0):
    """`count` subscribers; the first `pairs` private ids get a second public id (tel:) in their set."""
    with open(path, "w") as f:
        f.write("public id,private id,realm,password\n")
        for i in range(count):
            n = base + i
            f.write(f"sip:{n}@example.com,{n}@example.com,example.com,pw{n}\n")
            if i < pairs:
                f.write(f"tel:+1{n},{n}@example.com,example.com,pw{n}\n")


class Adder(threading.Thread):
    """One `cw-aio subscriber add` process after the other; remembers how each one ended."""

    def __init__(self, server, numbers):
        super().__init__(daemon=True)
        self.server, self.numbers = server, list(numbers)
        self.outcome = {}          # number -> "ok" | "failed" | "killed"
        self.refusals = []         # output of the adds that failed
        self.current = None
        self.stopping = threading.Event()
        self.lock = threading.Lock()

    def run(self):
        for n in self.numbers:
            if self.stopping.is_set():
                return
            with self.lock:
                if self.stopping.is_set():
                    return
                self.current = subprocess.Popen(
                    [BIN, "subscriber", "add", "--number", str(n), "--password", f"pw{n}",
                     "--public-id", f"tel:+1{n}", "--set", f"data_dir={self.server.data_dir}"],
                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            out, _ = self.current.communicate()
            rc = self.current.returncode
            self.outcome[n] = "ok" if rc == 0 else "killed" if rc == -signal.SIGKILL else "failed"
            if rc not in (0, -signal.SIGKILL):
                self.refusals.append(out.decode(errors="replace"))

    def kill_in_flight(self):
        with self.lock:
            self.stopping.set()
            if self.current and self.current.poll() is None:
                self.current.send_signal(signal.SIGKILL)

    def stop(self):
        self.stopping.set()
        self.join(120)
        assert not self.is_alive()


def start_sipp(server, first, count, rate, tag):
    inf = os.path.join(server.data_dir, f"dur-{tag}.inf")
    with open(inf, "w") as f:
        f.write("SEQUENTIAL\n")
        for n in range(first, first + count):
            f.write(f"{n};pw{n}\n")
    trace = os.path.join(server.data_dir, f"dur-{tag}-messages.log")
    proc = subprocess.Popen(
        ["sipp", f"127.0.0.1:{server.sip_port}", "-sf", REG_AUTH, "-inf", inf,
         "-key", "ct_host", "127.0.0.1", "-key", "ct_port", str(SIPP_PORT + 1000),
         "-i", "127.0.0.1", "-p", str(SIPP_PORT), "-t", "u1",
         "-m", str(count), "-r", str(rate), "-timeout", "40s", "-nostdin",
         "-trace_msg", "-message_file", trace],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=server.data_dir)
    return proc, trace


def acknowledged_registrations(trace):
    """The users whose authenticated REGISTER sipp saw answered 200 OK."""
    acked = set()
    with open(trace, errors="replace") as f:
        text = f.read()
    for block in text.split("-----------------------------------------------"):
        if "message received" not in block:
            continue
        msg = block.split("\n\n", 1)[-1] if "\n\n" in block else block
        if not msg.lstrip().startswith("SIP/2.0 200"):
            continue
        if not re.search(r"(?im)^CSeq:\s*\d+\s+REGISTER", msg):
            continue
        m = re.search(r"(?im)^(?:To|t):.*?sip:(\d+)@", msg)
        if m:
            acked.add(int(m.group(1)))
    return acked


def bytes_written(pid):
    try:
        with open(f"/proc/{pid}/io") as f:
            for line in f:
                if line.startswith("wchar:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return -1


def registered_count(server):
    """Registrations acknowledged so far, from the server's own metrics (successful digest auths)."""
    try:
        status, text = http(server, "GET", "/metrics")
    except OSError:
        return 0
    if status != 200:
        return 0
    m = re.search(r'^sip_auth_total\{result="success"\} (\S+)$', text, re.M)
    return int(float(m.group(1))) if m else 0


def wait_until(condition, deadline_s):
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.01)
    return False


def check_consistency(db):
    """No half-created subscriber: the provisioning tables only ever change together."""
    assert sqlite(db, "PRAGMA integrity_check").strip() == "ok"
    assert sqlite(db, "PRAGMA foreign_key_check").strip() == ""
    # Every private identity can register at least one set; every set has a private identity that
    # may register it and public identities numbered from 0 (the default identity) without gaps.
    assert rows(db, "SELECT impi FROM private_identity WHERE impi NOT IN "
                    "(SELECT impi FROM private_identity_irs) LIMIT 5") == []
    assert rows(db, "SELECT id FROM implicit_registration_set WHERE id NOT IN "
                    "(SELECT irs_id FROM private_identity_irs) LIMIT 5") == []
    assert rows(db, "SELECT id FROM implicit_registration_set s WHERE NOT EXISTS "
                    "(SELECT 1 FROM public_identity p WHERE p.irs_id = s.id) LIMIT 5") == []
    assert rows(db, "SELECT irs_id FROM public_identity GROUP BY irs_id "
                    "HAVING MIN(position) <> 0 OR MAX(position) <> COUNT(*) - 1 LIMIT 5") == []
    # Links and public identities only point at rows that exist (also what foreign_key_check says).
    assert rows(db, "SELECT impi FROM private_identity_irs WHERE impi NOT IN (SELECT impi FROM private_identity) "
                    "OR irs_id NOT IN (SELECT id FROM implicit_registration_set) LIMIT 5") == []
    assert rows(db, "SELECT impu FROM public_identity WHERE irs_id NOT IN "
                    "(SELECT id FROM implicit_registration_set) LIMIT 5") == []


def subscribers_present(db, first, count):
    """{number: sorted public ids} for the private ids `first..first+count-1`@example.com present."""
    found = {}
    for impi, impu in rows(db, f"""
            SELECT a.impi, p.impu FROM private_identity_irs a JOIN public_identity p ON p.irs_id = a.irs_id
            WHERE a.impi BETWEEN '{first}@example.com' AND '{first + count - 1}@example.com'
              AND length(a.impi) = {len(str(first)) + len('@example.com')}"""):
        found.setdefault(int(impi.split("@")[0]), []).append(impu)
    return {n: sorted(v) for n, v in found.items()}


def check_import(db, path, base, count, pairs, rc):
    """One transaction: every row of the file or none, with its change-feed entry iff present."""
    present = subscribers_present(db, base, count)
    feed = rows(db, f"SELECT COUNT(*) FROM change_feed WHERE kind = 'bulk' AND key = '{path}'")[0][0]
    if rc == 0:
        assert len(present) == count, f"a finished import lost rows: {count - len(present)} missing"
    assert len(present) in (0, count), f"half an import: {len(present)} of {count} subscribers of {path}"
    assert feed == ("1" if present else "0"), (feed, len(present))
    for n, impus in present.items():
        expected = sorted([f"sip:{n}@example.com"] + ([f"tel:+1{n}"] if n - base < pairs else []))
        assert impus == expected, (n, impus)
    return bool(present)


def check_adds(db, adders):
    outcomes = {}
    for a in adders:
        outcomes.update(a.outcome)
        # A refusal (e.g. the database stayed locked longer than the busy timeout) is an error message.
        for out in a.refusals:
            assert out.startswith("cw-aio subscriber add:"), out
    if not outcomes:
        return
    lo, hi = min(outcomes), max(outcomes)
    present = subscribers_present(db, lo, hi - lo + 1)
    for n, how in outcomes.items():
        if how == "ok":
            assert present.get(n) == [f"sip:{n}@example.com", f"tel:+1{n}"], (n, present.get(n))
        elif how == "failed":
            assert n not in present, f"a refused add left {n} behind"
        else:  # killed in flight: all or nothing
            assert present.get(n) in (None, [f"sip:{n}@example.com", f"tel:+1{n}"]), (n, present.get(n))
    never_ran = [n for a in adders for n in a.numbers if n not in a.outcome]
    assert not [n for n in never_ran if n in present]


def check_bindings_in_db(db, acked):
    stored = {int(aor[4:].split("@")[0]) for (aor,) in rows(
        db, f"SELECT DISTINCT aor FROM registration_binding WHERE aor LIKE 'sip:65056%@example.com'")}
    lost = sorted(acked - stored)
    assert not lost, f"{len(lost)} acknowledged registrations not in the database, e.g. {lost[:5]}"


def check_bindings_served(server, acked):
    """The restarted server knows them: an authenticated REGISTER without Contact lists the binding."""
    missing = []
    for n in sorted(acked):
        ua = UA(server.sip_port, str(n), f"pw{n}")
        try:
            final, _ = ua.register(contact="")
        finally:
            ua.close()
        if final is None or status_of(final) != 200 or not headers_all(final, "Contact"):
            missing.append(n)
    assert not missing, f"{len(missing)} acknowledged registrations unknown after restart, e.g. {missing[:5]}"
    # And over the HSS interface for a few.
    for n in sorted(acked)[:5]:
        status, body = http(server, "GET", f"/impu/{quote(f'sip:{n}@example.com', safe='')}/reg-data")
        assert status == 200 and "<RegistrationState>REGISTERED</RegistrationState>" in body, (n, body)


# Each moment: (name, what to wait for before the kill). The import and the registrations run
# concurrently; the kill lands when the condition holds (or when the import ends, whichever first).
# `registered` counts the round's successful digest authentications (the server's metric, minus what it
# was when the round started).
# Each moment also has its sipp rate (REGISTERs/s).
MOMENTS = [
    # Early: the first registrations are acknowledged, the import is (usually) still parsing/hashing.
    ("early", 100, lambda registered, imp: registered() >= 50),
    # The import is inside its write transaction: it has written pages to the WAL but not committed
    # (registrations slower, so that they are still arriving: their commits wait for the import's lock).
    ("import-writing", 40, lambda registered, imp: bytes_written(imp.pid) >= 256 * 1024),
    # Late: most registrations done; the `add` processes in flight are killed too.
    ("late", 100, lambda registered, imp: registered() >= SLICE * 2 // 3),
]


def test_kill_9_under_registration_and_provisioning_load(tmp_path):
    s = CwAio(PORT)
    os.makedirs(s.data_dir, exist_ok=True)
    db = os.path.join(s.data_dir, "cw-aio.sqlite")
    base_csv = tmp_path / "base.csv"
    write_import(base_csv, REG_BASE, SLICE * len(MOMENTS))
    cli(s, "import", str(base_csv))
    s.start()
    all_acked = set()
    report = []
    try:
        for r, (moment, rate, ready) in enumerate(MOMENTS):
            # --- load ---
            baseline = registered_count(s)  # the previous round's queries count too
            sipp, trace = start_sipp(s, REG_BASE + r * SLICE, SLICE, rate, f"r{r}")
            adders = [Adder(s, range(ADD_BASE + r * 1000 + k * 200, ADD_BASE + r * 1000 + (k + 1) * 200))
                      for k in range(ADDERS)]
            for a in adders:
                a.start()
            big = tmp_path / f"import-{r}.csv"
            pairs = 1000
            write_import(big, IMPORT_BASE + r * IMPORT_ROWS, IMPORT_ROWS, pairs)
            small = tmp_path / f"small-{r}.csv"
            write_import(small, IMPORT_BASE + 500000 + r * 100, 100)
            imp = subprocess.Popen([BIN, "subscriber", "import", str(big), "--set", f"data_dir={s.data_dir}"],
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            imp_small = subprocess.Popen([BIN, "subscriber", "import", str(small), "--set", f"data_dir={s.data_dir}"],
                                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

            # --- the moment, then SIGKILL to the server and the import (and in-flight adds, late) ---
            wait_until(lambda: ready(lambda: registered_count(s) - baseline, imp) or imp.poll() is not None, 90)
            import_written = bytes_written(imp.pid)
            s.stop(signal.SIGKILL)
            imp.send_signal(signal.SIGKILL)
            if moment == "late":
                for a in adders:
                    a.kill_in_flight()
            imp_out, _ = imp.communicate(timeout=60)
            small_out, _ = imp_small.communicate(timeout=120)
            for a in adders:
                a.stop()
            # sipp finishes on its own (the calls in flight time out); its message trace is complete then.
            sipp.wait(timeout=90)
            acked = acknowledged_registrations(trace)
            all_acked |= acked

            # --- the database, with no server running ---
            check_consistency(db)
            big_present = check_import(db, str(big), IMPORT_BASE + r * IMPORT_ROWS, IMPORT_ROWS, pairs, imp.returncode)
            check_import(db, str(small), IMPORT_BASE + 500000 + r * 100, 100, 0, imp_small.returncode)
            assert imp_small.returncode in (0, 1), small_out  # refused (busy) is allowed, half-done is not
            check_adds(db, adders)
            check_bindings_in_db(db, all_acked)
            stored = rows(db, f"SELECT COUNT(DISTINCT aor) FROM registration_binding WHERE aor BETWEEN "
                              f"'sip:{REG_BASE + r * SLICE}@' AND 'sip:{REG_BASE + (r + 1) * SLICE - 1}@~'")[0][0]
            report.append(f"{moment}: {len(acked)} registrations acknowledged, {stored} stored (sipp rc={sipp.returncode}), "
                          f"small import rc={imp_small.returncode}, big import rc={imp.returncode} "
                          f"written={import_written} present={big_present}, adds "
                          f"{sum(1 for a in adders for v in a.outcome.values() if v == 'ok')} ok "
                          f"{sum(1 for a in adders for v in a.outcome.values() if v == 'killed')} killed "
                          f"{sum(1 for a in adders for v in a.outcome.values() if v == 'failed')} refused")

            # --- restart: the server serves what the database holds ---
            os.replace(s.log_path, s.log_path + f".{r}")
            s.start()
            check_bindings_served(s, acked)
            if big_present:
                n = IMPORT_BASE + r * IMPORT_ROWS + IMPORT_ROWS - 1
                ua = UA(s.sip_port, str(n), f"pw{n}")
                assert status_of(ua.register()[0]) == 200
                ua.close()
        check_consistency(db)
        check_bindings_in_db(db, all_acked)
    finally:
        print("\n".join(report))
        if s.alive():
            assert s.stop() == 0, s.read_log()[-3000:]


def register_and_wait(server, number, out, timeout=40):
    """REGISTER with digest; out[number] = the final answer to the authenticated request."""
    ua = UA(server.sip_port, str(number), f"pw{number}")
    try:
        uri = "sip:example.com"
        cseq = ua.request("REGISTER", uri, [f"Contact: {ua.contact()}", "Expires: 300"])
        first = ua.recv_response(cseq)
        assert first is not None and status_of(first) == 401, first
        auth = ua.authorization(header(first, "WWW-Authenticate"), "REGISTER", uri)
        cseq = ua.request("REGISTER", uri, [f"Contact: {ua.contact()}", "Expires: 300"], auth=auth)
        out[number] = ua.recv_response(cseq, timeout=timeout)
    finally:
        ua.close()


def registering(server, numbers, out):
    threads = [threading.Thread(target=register_and_wait, args=(server, n, out), daemon=True) for n in numbers]
    for t in threads:
        t.start()
    return threads


def test_registrations_wait_while_another_process_holds_the_database(tmp_path):
    """Regression: when a commit of the registration journal failed because another process (a long
    `subscriber import`) held the write lock for longer than the busy timeout, the batch was dropped and
    its REGISTERs were answered 200 OK anyway, so those bindings were lost by kill -9 (and missing from
    the database even without one). Now a REGISTER is answered 200 only once its binding is committed:
    the journal retries, and answers 503 + Retry-After if the database stays locked too long."""
    s = CwAio(PORT + 6)
    os.makedirs(s.data_dir, exist_ok=True)
    db = os.path.join(s.data_dir, "cw-aio.sqlite")
    csv = tmp_path / "u.csv"
    write_import(csv, REG_BASE, 40)
    cli(s, "import", str(csv))
    s.start()
    holder = sqlite3.connect(db, timeout=30, isolation_level=None)
    try:
        # 1. The lock is held until every REGISTER has its answer (none may be 200 without a commit),
        #    then the server is killed.
        holder.execute("BEGIN IMMEDIATE")
        first = {}
        threads = registering(s, range(REG_BASE, REG_BASE + 10), first)
        for t in threads:
            t.join(60)
        assert "could not save registrations" in s.read_log()  # the busy path was taken
        s.stop(signal.SIGKILL)
        holder.execute("ROLLBACK")
        answers = {n: status_of(r) if r else None for n, r in first.items()}
        assert set(answers.values()) <= {200, 503}, answers
        for n, r in first.items():
            if status_of(r) == 503:
                assert header(r, "Retry-After"), r
        check_bindings_in_db(db, {n for n, code in answers.items() if code == 200})

        # 2. The server starts while the lock is held; the lock is released while the REGISTERs wait:
        #    they are answered 200 and are on disk.
        os.replace(s.log_path, s.log_path + ".1")
        holder.execute("BEGIN IMMEDIATE")
        s.start()
        second = {}
        threads = registering(s, range(REG_BASE + 10, REG_BASE + 20), second)
        assert wait_until(lambda: "could not save registrations" in s.read_log(), 60)
        holder.execute("ROLLBACK")
        for t in threads:
            t.join(60)
        assert {n: status_of(r) if r else None for n, r in second.items()} == {
            n: 200 for n in range(REG_BASE + 10, REG_BASE + 20)}
        s.stop(signal.SIGKILL)
        check_bindings_in_db(db, set(second))
        assert sqlite(db, "PRAGMA integrity_check").strip() == "ok"
    finally:
        holder.close()
        if s.alive():
            s.stop(signal.SIGKILL)
