"""Issue 4, bad input and state hygiene: after a batch of mixed calls (answered, to an unregistered
callee, cancelled-by-nobody stray CANCELs, ACK storms for unknown dialogs) every transaction and
proxy context is gone once the protocol timers have run (the /health counts return to zero)."""
import os
import socket
import subprocess
import time
import uuid

import pytest

from conftest import HERE, CwAio, options_request, status_of, udp_exchange

SC = os.path.join(HERE, "scenarios")
CALLS = int(os.environ.get("CW_AIO_LEAK_CALLS", "1000"))
RATE = os.environ.get("CW_AIO_LEAK_RATE", "50")
CALLEE, GHOST = "6505558000", "6505558001"



def sipp(args, cwd, timeout=300):
    return subprocess.Popen(["sipp", *args, "-nostdin", "-timeout_error", "-trace_err"], cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def test_mixed_calls_leave_no_state(tmp_path):
    s = CwAio(5250)
    s.provision(tmp_path / "users.csv", [*range(6505558100, 6505558150), CALLEE, GHOST], timeout=60)
    s.start()
    try:
        cwd = str(tmp_path)
        with open(tmp_path / "callers.csv", "w") as f:
            f.write("SEQUENTIAL\n")
            for i in range(50):
                n = 6505558100 + i
                f.write(f"{n};pw{n};{CALLEE}\n")
        with open(tmp_path / "ghost.csv", "w") as f:
            f.write("SEQUENTIAL\n")
            for i in range(50):
                n = 6505558100 + i
                f.write(f"{n};pw{n};{GHOST}\n")
        with open(tmp_path / "callee.csv", "w") as f:
            f.write(f"SEQUENTIAL\n{CALLEE};pw{CALLEE}\n")
        uas = sipp(["-sf", os.path.join(SC, "call_uas.xml"), "-i", "127.0.0.1", "-p", "5391", "-m", str(CALLS),
                    "-timeout", "300s"], cwd)
        time.sleep(0.5)
        reg = sipp([f"127.0.0.1:{s.sip_port}", "-sf", os.path.join(SC, "reg_auth.xml"), "-inf", str(tmp_path / "callee.csv"),
                    "-key", "ct_host", "127.0.0.1", "-key", "ct_port", "5391", "-i", "127.0.0.1", "-p", "5392",
                    "-m", "1", "-timeout", "30s"], cwd)
        assert reg.wait(60) == 0, reg.stdout.read().decode()[-2000:]
        uac = sipp([f"127.0.0.1:{s.sip_port}", "-sf", os.path.join(SC, "call_uac.xml"), "-inf", str(tmp_path / "callers.csv"),
                    "-i", "127.0.0.1", "-p", "5393", "-m", str(CALLS), "-r", RATE, "-l", "200", "-timeout", "300s"], cwd)
        ghost = sipp([f"127.0.0.1:{s.sip_port}", "-sf", os.path.join(SC, "call_uac_fail.xml"), "-inf", str(tmp_path / "ghost.csv"),
                      "-key", "mf", "70", "-i", "127.0.0.1", "-p", "5394", "-m", str(CALLS // 10), "-r", "20", "-timeout", "300s"], cwd)
        # Stray traffic meanwhile: CANCEL and ACK for transactions and dialogs that never existed.
        stray = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        stray.bind(("127.0.0.1", 0))
        for i in range(200):
            for method in (b"CANCEL", b"ACK"):
                req = options_request(s.sip_port, local_port=stray.getsockname()[1],
                                      uri="sip:6505558000@example.com").replace(b"OPTIONS", method)
                stray.sendto(req, ("127.0.0.1", s.sip_port))
        stray.close()
        assert uac.wait(400) == 0, uac.stdout.read().decode()[-3000:]
        assert ghost.wait(400) == 0, ghost.stdout.read().decode()[-3000:]
        assert uas.wait(60) == 0, uas.stdout.read().decode()[-3000:]
        busy = s.health()
        # Timers D (32 s), H/J/L/M (64*T1) end the last transactions; nothing else may remain.
        deadline = time.time() + 70
        counts = busy
        while time.time() < deadline:
            counts = s.health()
            if counts["server_transactions"] == 0 and counts["client_transactions"] == 0 and counts["proxy_contexts"] == 0:
                break
            time.sleep(2)
        assert counts["server_transactions"] == 0 and counts["client_transactions"] == 0, counts
        assert counts["proxy_contexts"] == 0, counts
        [ok] = udp_exchange(s.sip_port, options_request(s.sip_port))
        assert status_of(ok) == 200
    finally:
        assert s.stop() == 0
