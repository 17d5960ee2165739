"""Call routing through cw-aio driven by sipp: basic calls (UDP, TCP), CANCEL, busy, 404/480, forking,
re-INVITE/UPDATE, PRACK, MESSAGE and malformed or stray requests.

Callers are sipp UACs that REGISTER and then call in one sipp call (same Call-ID, same socket: cw-aio
only lets registered flows originate). Callees are sipp UASes on their own port, registered either
  - "contact": by a separate sipp REGISTER from another port whose Contact names the UAS port (cw-aio
    sends the INVITE to the Contact because its host is the REGISTER's source address), or
  - "flow": by a sipp REGISTER sent from the UAS port itself with a Contact on another host (the
    NAT case: cw-aio sends the INVITE over the flow the REGISTER came on).
Dialog tests run in both modes (cw-aio record-routes both sides whichever way the callee is reached).
On TCP the callee registers on its own connection and receives
the INVITE over it; to make sipp map that INVITE to the callee's call, both sides share one Call-ID
(-cid_str).
Scenario files: scenarios/call_*.xml (and reg_auth.xml for the separate REGISTER).
"""
import itertools
import os
import re
import socket
import subprocess
import time
import uuid

import pytest

from conftest import HERE, CwAio

SCENARIOS = os.path.join(HERE, "scenarios")
SIP_PORT = 5210
BASE = 6505560000          # provisioned: BASE .. BASE+N_USERS-1, password pw<number>
N_USERS = 200
UNKNOWN = "6505569999"     # never provisioned
_users = itertools.count(BASE)
_ports = itertools.count(5300)


def next_user():
    n = next(_users)
    assert n < BASE + N_USERS
    return str(n)


def next_port():
    p = next(_ports)
    assert p < 5400, "sipp port range 5300-5399 exhausted"
    return p


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    s = CwAio(SIP_PORT)
    s.provision(tmp_path_factory.mktemp("sipp-calls-prov") / "users.csv", range(BASE, BASE + N_USERS))
    s.start()
    yield s
    rc = s.stop()
    assert rc == 0, s.read_log()[-3000:]


class Sipp:
    """One sipp process running one call (-m 1), with its message trace kept for assertions."""

    def __init__(self, workdir, name, scenario, port, *, client=True, transport="u1", fields=None,
                 keys=None, extra=(), timeout=12):
        self.name = name
        self.port = port
        self.timeout = timeout
        self.trace_path = os.path.join(workdir, f"{name}.msg")
        self.err_path = os.path.join(workdir, f"{name}.err")
        self.out_path = os.path.join(workdir, f"{name}.out")
        args = ["sipp"] + ([f"127.0.0.1:{SIP_PORT}"] if client else [])
        args += ["-sf", os.path.join(SCENARIOS, scenario), "-i", "127.0.0.1", "-p", str(port),
                 "-t", transport, "-m", "1", "-timeout", f"{timeout}s", "-timeout_error", "-nostdin",
                 "-max_retrans", "4", "-trace_msg", "-message_file", self.trace_path,
                 "-trace_err", "-error_file", self.err_path]
        if fields:
            inf = os.path.join(workdir, f"{name}.inf")
            with open(inf, "w") as f:
                f.write("SEQUENTIAL\n" + ";".join(fields) + "\n")
            args += ["-inf", inf]
        for k, v in (keys or {}).items():
            args += ["-key", k, str(v)]
        self.args = args + list(extra)
        self.out = open(self.out_path, "wb")
        self.proc = subprocess.Popen(self.args, stdout=self.out, stderr=subprocess.STDOUT, cwd=workdir)
        self.rc = None

    def wait_listening(self, timeout=5):
        """A UAS is ready once its UDP port is taken."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                s.bind(("127.0.0.1", self.port))
            except OSError:
                return
            finally:
                s.close()
            time.sleep(0.05)
        raise AssertionError(f"{self.name}: sipp did not bind port {self.port}")

    def wait(self):
        if self.rc is None:
            try:
                self.rc = self.proc.wait(self.timeout + 20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                self.rc = "killed (hung)"
            self.out.close()
        return self.rc

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if not self.out.closed:
            self.out.close()

    def _read(self, path, tail=6000):
        try:
            with open(path, errors="replace") as f:
                return f.read()[-tail:] if tail else f.read()
        except OSError:
            return ""

    def trace(self):
        return self._read(self.trace_path, tail=0)

    def messages(self, direction="received"):
        """The SIP messages sipp sent or received, in order."""
        out = []
        for block in re.split(r"\n-{40,}[^\n]*\n", "\n" + self.trace()):
            m = re.match(rf"\w+ message {direction}[^\n]*:\n\n(.*)", block, re.S)
            if m:
                out.append(m.group(1))
        return out

    def responses(self):
        """(status, CSeq method) of every response received."""
        out = []
        for msg in self.messages("received"):
            m = re.match(r"SIP/2\.0 (\d{3}) ", msg)
            c = re.search(r"(?im)^CSeq:\s*\d+\s+(\w+)", msg)
            if m:
                out.append((int(m.group(1)), c.group(1) if c else None))
        return out

    def requests(self):
        return [m.split(" ", 1)[0] for m in self.messages("received") if not m.startswith("SIP/2.0")]

    def request(self, method):
        """The first received request of this method."""
        return next(m for m in self.messages("received") if m.startswith(method + " "))

    def diag(self):
        return (f"--- sipp {self.name} (rc={self.rc}): {' '.join(self.args)}\n"
                f"{self._read(self.out_path, 1500)}\n--- errors\n{self._read(self.err_path, 3000)}\n"
                f"--- messages\n{self._read(self.trace_path, 5000)}")


@pytest.fixture
def sipp(server, tmp_path):
    """Starts sipp processes; on teardown kills any still running (only those it started)."""
    started = []

    def run(name, scenario, port=None, **kw):
        p = Sipp(str(tmp_path), name, scenario, port or next_port(), **kw)
        started.append(p)
        return p

    run.diag = lambda: "\n".join(p.diag() for p in started) + "\n--- cw-aio log\n" + server.read_log()[-6000:]
    yield run
    for p in started:
        p.kill()


def assert_ok(sipp, *procs):
    """Every sipp exits 0 (all its calls succeeded)."""
    rcs = {p.name: p.wait() for p in procs}
    assert all(rc == 0 for rc in rcs.values()), f"sipp exit codes {rcs}\n{sipp.diag()}"


def register(sipp, number, uas_port, mode="contact", transport="u1"):
    """Registers `number` so that cw-aio sends its calls to a UAS on `uas_port` (see module doc)."""
    if mode == "contact":
        p = sipp(f"reg-{number}-{uas_port}", "reg_auth.xml", fields=[number, f"pw{number}"],
                 keys={"ct_host": "127.0.0.1", "ct_port": uas_port}, transport=transport)
    else:
        p = sipp(f"reg-{number}-{uas_port}", "reg_auth.xml", port=uas_port, fields=[number, f"pw{number}"],
                 keys={"ct_host": "127.0.0.2", "ct_port": uas_port}, transport=transport)
    assert_ok(sipp, p)
    return p


def uas(sipp, scenario, port, name="uas", **kw):
    p = sipp(name, scenario, port=port, client=False, **kw)
    p.wait_listening()
    return p


def caller(sipp, scenario, number, callee, **kw):
    return sipp(f"caller-{number}", scenario, fields=[number, f"pw{number}", callee], **kw)


def final_status(proc, method="INVITE"):
    finals = [s for s, m in proc.responses() if m == method and s >= 200]
    return finals[-1] if finals else None


def assert_non2xx_acked(proc, status):
    """The INVITE ended in `status`, the ACK reused the INVITE's branch (RFC 3261 §17.1.1.3) and the
    final response came once: a retransmission would mean the ACK did not match the transaction."""
    assert final_status(proc) == status, proc.responses()
    branches = {}
    for m in proc.messages("sent"):
        method = m.split(" ", 1)[0]
        if method in ("INVITE", "ACK"):
            branches.setdefault(method, re.search(r"(?im)^Via:.*;branch=([^;\s]+)", m).group(1))
    assert branches.get("ACK") == branches.get("INVITE"), branches
    assert [s for s, m in proc.responses() if m == "INVITE" and s >= 200] == [status], proc.responses()


def record_routes(msg):
    values = re.findall(r"(?im)^Record-Route:\s*(.*)$", msg)
    return [v for value in values for v in re.findall(r"<[^>]*>", value)]


MODES = ["flow", "contact"]


# 1 ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("mode", MODES)
def test_basic_call_udp(sipp, mode):
    a, b = next_user(), next_user()
    port = next_port()
    register(sipp, b, port, mode)
    callee = uas(sipp, "call_uas.xml", port)
    call = caller(sipp, "call_uac.xml", a, b)
    assert_ok(sipp, call, callee)
    assert [s for s, m in call.responses() if m == "INVITE"][-2:] == [180, 200], call.responses()
    assert (100, "INVITE") in call.responses()          # the proxy's own 100 Trying
    assert (200, "BYE") in call.responses()
    assert callee.requests() == ["INVITE", "ACK", "BYE"], callee.requests()
    invite = callee.request("INVITE")
    assert len(record_routes(invite)) == 2, invite      # double Record-Route (one per side)
    assert re.search(r"(?im)^Session-Expires:", invite), invite  # added by the proxy
    assert re.search(r"(?im)^P-Asserted-Identity:.*<sip:%s@example\.com>" % a, invite), invite


# 2 ----------------------------------------------------------------------------------------------

def test_basic_call_tcp(sipp):
    """Both sides on TCP. The callee registers on its own connection and gets the INVITE over it; so
    that this INVITE maps to the callee's sipp call, both sides use the same Call-ID (-cid_str)."""
    a, b = next_user(), next_user()
    cid = ["-cid_str", f"tcp-{uuid.uuid4().hex}@127.0.0.1"]
    callee = sipp(f"callee-{b}", "call_uas_tcp.xml", fields=[b, f"pw{b}"], transport="t1", extra=cid)
    deadline = time.monotonic() + 5
    while (200, "REGISTER") not in callee.responses() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert (200, "REGISTER") in callee.responses(), sipp.diag()
    call = caller(sipp, "call_uac.xml", a, b, transport="t1", extra=cid)
    assert_ok(sipp, call, callee)
    assert [s for s, m in call.responses() if m == "INVITE"][-2:] == [180, 200], call.responses()
    assert callee.requests() == ["INVITE", "ACK", "BYE"], callee.requests()
    rrs = record_routes(callee.request("INVITE"))
    assert len(rrs) == 2 and all("transport=tcp" in r for r in rrs), rrs


def test_tcp_caller_udp_callee(sipp):
    a, b = next_user(), next_user()
    port = next_port()
    register(sipp, b, port, "flow")
    callee = uas(sipp, "call_uas.xml", port)
    call = caller(sipp, "call_uac.xml", a, b, transport="t1")
    assert_ok(sipp, call, callee)
    rrs = record_routes(callee.request("INVITE"))
    assert len(rrs) == 2 and "transport=tcp" in rrs[1] and "transport" not in rrs[0], rrs


# 3 ----------------------------------------------------------------------------------------------

def test_cancel_before_answer(sipp):
    a, b = next_user(), next_user()
    port = next_port()
    register(sipp, b, port)
    callee = uas(sipp, "call_uas_cancel.xml", port)
    call = caller(sipp, "call_uac_cancel.xml", a, b)
    assert_ok(sipp, call, callee)
    assert (200, "CANCEL") in call.responses(), call.responses()
    assert_non2xx_acked(call, 487)
    assert callee.requests() == ["INVITE", "CANCEL", "ACK"], callee.requests()


# 4 ----------------------------------------------------------------------------------------------

def test_callee_busy_486(sipp):
    a, b = next_user(), next_user()
    port = next_port()
    register(sipp, b, port)
    callee = uas(sipp, "call_uas_busy.xml", port)
    call = caller(sipp, "call_uac_fail.xml", a, b, keys={"mf": 70})
    assert_ok(sipp, call, callee)
    assert_non2xx_acked(call, 486)
    assert callee.requests() == ["INVITE", "ACK"], callee.requests()


# 5 ----------------------------------------------------------------------------------------------

def test_unregistered_callee_480(sipp):
    a, b = next_user(), next_user()         # b is provisioned, never registered
    call = caller(sipp, "call_uac_fail.xml", a, b, keys={"mf": 70})
    assert_ok(sipp, call)
    assert_non2xx_acked(call, 480)


def test_unknown_number_404(sipp):
    a = next_user()
    call = caller(sipp, "call_uac_fail.xml", a, UNKNOWN, keys={"mf": 70})
    assert_ok(sipp, call)
    assert_non2xx_acked(call, 404)


# 6 ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("mode", MODES)
def test_fork_answer_cancels_other_branch(sipp, mode):
    a, b = next_user(), next_user()
    p1, p2 = next_port(), next_port()
    register(sipp, b, p1, mode)
    register(sipp, b, p2, mode)
    answering = uas(sipp, "call_uas.xml", p1, name="uas-answers", extra=["-d", "1000"])
    ringing = uas(sipp, "call_uas_cancel.xml", p2, name="uas-rings")
    call = caller(sipp, "call_uac.xml", a, b)
    assert_ok(sipp, call, answering, ringing)
    # Two 180s (one per branch), one 200; the cancelled branch's 487 stays in the proxy.
    assert sorted(s for s, m in call.responses() if m == "INVITE" and s > 100) == [180, 180, 200], call.responses()
    assert answering.requests() == ["INVITE", "ACK", "BYE"], answering.requests()
    assert ringing.requests() == ["INVITE", "CANCEL", "ACK"], ringing.requests()


# 7 ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("mode", MODES)
def test_reinvite_and_update(sipp, mode):
    a, b = next_user(), next_user()
    port = next_port()
    register(sipp, b, port, mode)
    callee = uas(sipp, "call_uas_reinvite.xml", port)
    call = caller(sipp, "call_uac_reinvite.xml", a, b)
    assert_ok(sipp, call, callee)
    assert callee.requests() == ["INVITE", "ACK", "INVITE", "ACK", "UPDATE", "BYE"], callee.requests()
    assert (200, "UPDATE") in call.responses() and (200, "BYE") in call.responses()


# 8 ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("mode", MODES)
def test_prack(sipp, mode):
    a, b = next_user(), next_user()
    port = next_port()
    register(sipp, b, port, mode)
    callee = uas(sipp, "call_uas_prack.xml", port)
    call = caller(sipp, "call_uac_prack.xml", a, b)
    assert_ok(sipp, call, callee)
    assert callee.requests()[:2] == ["INVITE", "PRACK"] and callee.requests()[-2:] == ["ACK", "BYE"], \
        callee.requests()
    assert (200, "PRACK") in call.responses() and final_status(call) == 200, call.responses()


# 9 ----------------------------------------------------------------------------------------------

def test_message_to_registered_user(sipp):
    a, b = next_user(), next_user()
    port = next_port()
    register(sipp, b, port)
    callee = uas(sipp, "call_uas_message.xml", port)
    msg = caller(sipp, "call_uac_message.xml", a, b)
    assert_ok(sipp, msg, callee)
    assert final_status(msg, "MESSAGE") == 200, msg.responses()
    assert callee.requests() == ["MESSAGE"]


def test_message_to_unregistered_user_480(sipp):
    a, b = next_user(), next_user()
    msg = caller(sipp, "call_uac_message.xml", a, b)
    assert_ok(sipp, msg)
    assert final_status(msg, "MESSAGE") == 480, msg.responses()


# 10 ---------------------------------------------------------------------------------------------

def test_max_forwards_zero_483(sipp):
    a, b = next_user(), next_user()
    port = next_port()
    register(sipp, b, port)
    call = caller(sipp, "call_uac_fail.xml", a, b, keys={"mf": 0})
    assert_ok(sipp, call)
    assert_non2xx_acked(call, 483)


def test_stray_cancel_and_bye_481(sipp):
    a, b = next_user(), next_user()
    call = caller(sipp, "call_uac_stray.xml", a, b)
    assert_ok(sipp, call)
    assert [(s, m) for s, m in call.responses() if m != "REGISTER"] == [(481, "CANCEL"), (481, "BYE")]


def test_garbage_sdp_488(sipp):
    a, b = next_user(), next_user()
    port = next_port()
    register(sipp, b, port)
    call = caller(sipp, "call_uac_bad_sdp.xml", a, b)
    assert_ok(sipp, call)
    assert_non2xx_acked(call, 488)
