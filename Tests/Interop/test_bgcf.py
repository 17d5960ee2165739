"""Issue 4: numbers that are not local subscribers break out through the BGCF route table
(bgcf.json) to a gateway — here a sipp UAS on another port; the tables are validated at start-up
and re-read on SIGHUP."""
import json
import os
import signal
import subprocess
import tempfile
import time

import pytest

from conftest import BIN, CwAio
from softphones import Baresip, client_available

GATEWAY_PORT = 5360


def write_bgcf(path, number_prefix="+1415"):
    with open(path, "w") as f:
        json.dump({"routes": [{"name": "test gateway", "number": number_prefix,
                               "route": [f"sip:127.0.0.1:{GATEWAY_PORT};transport=udp;lr"]}]}, f)


@pytest.fixture(scope="module")
def bgcf_server():
    s = CwAio(5180)
    os.makedirs(s.data_dir, exist_ok=True)
    r = subprocess.run([BIN, "subscriber", "add", "--number", "6505550001", "--password", "alicepw",
                        "--set", f"data_dir={s.data_dir}"], capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr.decode()
    s.start()  # no bgcf.json yet: the route arrives with SIGHUP
    yield s
    assert s.stop() == 0


def test_breakout_to_gateway_after_sighup(bgcf_server, tmp_path):
    ok, why = client_available("baresip")
    assert ok, why
    write_bgcf(os.path.join(bgcf_server.data_dir, "bgcf.json"))
    bgcf_server.proc.send_signal(signal.SIGHUP)
    deadline = time.time() + 10
    while "reloaded routing tables" not in bgcf_server.read_log() and time.time() < deadline:
        time.sleep(0.2)
    assert "reloaded routing tables (0 ENUM blocks, 1 BGCF routes)" in bgcf_server.read_log()
    gw = subprocess.Popen(["sipp", "-sn", "uas", "-i", "127.0.0.1", "-p", str(GATEWAY_PORT), "-m", "1",
                           "-timeout", "40s", "-timeout_error", "-nostdin"], cwd=str(tmp_path),
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    a = Baresip(str(tmp_path / "alice"), "6505550001", "alicepw", "example.com", bgcf_server.sip_port, 5820)
    try:
        a.start()
        assert a.register().ok, a.log()
        a.call("+14155550000")
        assert a.wait_call_state("established", 15), a.log() + bgcf_server.read_log()[-3000:]
        time.sleep(1)
        a.hangup()
        assert a.wait_call_state("closed", 10), a.log()
        out, _ = gw.communicate(timeout=30)
        assert gw.returncode == 0, out.decode()[-2000:]
    finally:
        a.stop()
        if gw.poll() is None:
            gw.kill()


def test_number_without_route_is_404(bgcf_server, tmp_path):
    a = Baresip(str(tmp_path / "alice2"), "6505550001", "alicepw", "example.com", bgcf_server.sip_port, 5830)
    try:
        a.start()
        assert a.register().ok
        a.call("+4420555000")  # no route for +44, not a subscriber
        assert a.wait_call_state("closed", 15), a.log()
        assert "404" in a.log()
    finally:
        a.stop()


def test_invalid_bgcf_json_refused_with_file_and_entry(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "bgcf.json").write_text('{"routes": [{"name": "x", "number": "+1", "route": []}]}')
    r = subprocess.run([BIN, "--set", f"data_dir={data}", "--set", "sip_port=5190", "--set", "sip_tls_port=5191",
                        "--set", "hss_port=8190"], capture_output=True, timeout=30)
    err = (r.stdout + r.stderr).decode()
    assert r.returncode != 0
    assert "bgcf.json" in err and "routes[0]" in err, err


def test_sighup_with_broken_file_keeps_tables(bgcf_server):
    path = os.path.join(bgcf_server.data_dir, "bgcf.json")
    with open(path, "w") as f:
        f.write("{ not json")
    bgcf_server.proc.send_signal(signal.SIGHUP)
    deadline = time.time() + 10
    while "routing tables not reloaded" not in bgcf_server.read_log() and time.time() < deadline:
        time.sleep(0.2)
    assert "routing tables not reloaded" in bgcf_server.read_log()
    assert bgcf_server.alive()
    write_bgcf(path)


def test_route_back_to_ourselves_is_a_loop_482(tmp_path):
    """A BGCF route that leads back to cw-aio itself: the request returns with our Via and the same
    loop hash, and is refused with 482 instead of circling (RFC 3261 §16.3 step 4)."""
    from conftest import status_of
    from sipua import UA
    s = CwAio(5185)
    os.makedirs(s.data_dir, exist_ok=True)
    with open(os.path.join(s.data_dir, "bgcf.json"), "w") as f:
        json.dump({"routes": [{"name": "self", "number": "+1999", "route": [f"sip:127.0.0.1:5185;lr"]}]}, f)
    assert subprocess.run([BIN, "subscriber", "add", "--number", "6505550001", "--password", "pw",
                           "--set", f"data_dir={s.data_dir}"], capture_output=True, timeout=60).returncode == 0
    s.start()
    try:
        ua = UA(s.sip_port, "6505550001", "pw")
        assert status_of(ua.register()[0]) == 200
        cseq = ua.request("INVITE", "sip:+19995550000@example.com;user=phone", ["Contact: " + ua.contact()])
        r = ua.recv_response(cseq, timeout=5)
        assert status_of(r) == 482, r
    finally:
        assert s.stop() == 0
