"""Issue 4 with real softphones: two clients registered to cw-aio call each other by the bare number,
the callee auto-answers, the 440 Hz tone flows directly between them, the caller hangs up, both
see the end; then MESSAGEs both ways."""
import itertools
import os
import shutil
import subprocess
import tempfile
import time
import uuid

import pytest

from conftest import BIN, CwAio
from softphones import CLIENTS, Baresip, client_available, tone_frequency

DOMAIN = "example.com"
ALICE, BOB, CAROL = "6505550001", "6505550002", "6505550003"
PASSWORDS = {ALICE: "alicepw1", BOB: "bobpw2", CAROL: "carolpw3"}
PAIRS = [("baresip", "baresip"), ("linphonec", "baresip"), ("pjsua2", "linphonec")]
MEDIA_SECONDS = 2.5
_ports = itertools.count(5800, 4)


@pytest.fixture(scope="module")
def call_server():
    s = CwAio(5170)
    os.makedirs(s.data_dir, exist_ok=True)
    for number, password in PASSWORDS.items():
        r = subprocess.run([BIN, "subscriber", "add", "--number", number, "--password", password,
                            "--set", f"data_dir={s.data_dir}"], capture_output=True, timeout=60)
        assert r.returncode == 0, r.stderr.decode()
    s.start()
    yield s
    assert s.stop() == 0


@pytest.fixture
def phones(call_server):
    made = []
    base = tempfile.mkdtemp(prefix="cw-calls-")

    def make(kind, user, transport="udp"):
        ok, why = client_available(kind)
        if not ok:
            pytest.fail(f"{kind} missing: {why}")
        p = CLIENTS[kind](os.path.join(base, f"{kind}-{user}-{len(made)}"), user, PASSWORDS[user], DOMAIN,
                          call_server.sip_port, next(_ports), transport=transport)
        made.append(p)
        p.start()
        return p

    make.diag = lambda: "\n".join(f"--- {p!r}\n{p.log()[-2500:]}" for p in made) + \
        "\n--- cw-aio\n" + call_server.read_log()[-4000:]
    yield make
    for p in made:
        p.stop()
    shutil.rmtree(base, ignore_errors=True)


def check_tone(phone, diag):
    wav = phone.received_audio_wav()
    assert wav is not None, f"{phone!r} recorded no audio\n{diag()}"
    f = tone_frequency(wav)
    assert f is not None and abs(f - 440) <= 20, f"{phone!r} received {f} Hz\n{diag()}"


@pytest.mark.parametrize("transport", ["udp", "tcp"])
@pytest.mark.parametrize("caller_kind,callee_kind", PAIRS, ids=[f"{a}-to-{b}" for a, b in PAIRS])
def test_call_audio_hangup_and_message(phones, caller_kind, callee_kind, transport):
    a = phones(caller_kind, ALICE, transport)
    b = phones(callee_kind, BOB, transport)
    for p in (a, b):
        r = p.register()
        assert r.ok, f"{p!r}: {r}\n{phones.diag()}"
    a.call(BOB)
    assert b.wait_call_state("established", 15), phones.diag()
    assert a.wait_call_state("established", 15), phones.diag()
    time.sleep(MEDIA_SECONDS)
    a.hangup()
    assert a.wait_call_state("closed", 10), phones.diag()
    assert b.wait_call_state("closed", 10), phones.diag()
    if isinstance(b, Baresip):
        check_tone(b, phones.diag)
    t1, t2 = f"hello bob {uuid.uuid4().hex[:8]}", f"hi alice {uuid.uuid4().hex[:8]}"
    a.send_message(BOB, t1)
    assert b.wait_message(t1, 10), phones.diag()
    b.send_message(f"{ALICE}@{DOMAIN}", t2)
    assert a.wait_message(t2, 10), phones.diag()


def test_call_to_provisioned_but_unregistered_closes(phones):
    a = phones("pjsua2", ALICE)
    assert a.register().ok
    a.call(CAROL)  # provisioned, not registered: 480
    assert a.wait_call_state("closed", 15), phones.diag()
    assert "480" in a.log(), phones.diag()
