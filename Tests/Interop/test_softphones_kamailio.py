"""Validates the real softphone drivers (softphones.py) against Kamailio, the reference
registrar/proxy (shared/peers/kamailio, adapted copy: max_expires 300, TLS on 5171 when
kamailio-tls-modules is installed).

Runs only with CW_AIO_KAMAILIO_TESTS=1 (the product suite targets cw-aio), inside a private
network namespace where only 127.0.0.1 exists:

    CW_AIO_KAMAILIO_TESTS=1 unshare -n bash -c 'ip link set lo up && \
        python3 -m pytest -q Tests/Interop/test_softphones_kamailio.py'

Install the clients and the reference first: Tests/Interop/install-clients.sh --kamailio
"""
import functools
import itertools
import os
import shutil
import tempfile
import time
import uuid

import pytest

pytestmark = pytest.mark.skipif(os.environ.get("CW_AIO_KAMAILIO_TESTS") != "1",
                                reason="driver validation against Kamailio: set CW_AIO_KAMAILIO_TESTS=1")

from kamailio_fixture import DOMAIN, PASSWORD, Kamailio, kamailio_missing, tls_available  # noqa: E402
from softphones import Baresip, Linphonec, Pjsua2, client_available, tone_frequency  # noqa: E402

KAMAILIO_PORT = 5170          # TLS on 5171
KINDS = {"baresip": Baresip, "linphonec": Linphonec, "pjsua2": Pjsua2}
TRANSPORTS = ["udp", "tcp", "tls"]
# every client is caller and callee at least once
PAIRS = [("baresip", "baresip"), ("linphonec", "baresip"), ("pjsua2", "linphonec"), ("baresip", "pjsua2")]
ALICE, BOB, EVE = "6505550001", "6505550002", "6505550003"
MEDIA_SECONDS = 2.5
TONE_HZ, TONE_TOLERANCE = 440, 20

_ports = itertools.count(5300, 4)       # baresip also binds port+1 (TLS)


@functools.lru_cache(maxsize=None)
def _available(kind):
    return client_available(kind)


def _isolated() -> bool:
    """Only the loopback interface exists (we run inside `unshare -n`)."""
    import socket
    return [name for _, name in socket.if_nameindex()] == ["lo"]


@pytest.fixture(scope="module")
def kamailio():
    if not _isolated() and os.environ.get("CW_AIO_ALLOW_HOST_NET") != "1":
        pytest.skip("run inside a private network namespace (unshare -n ...; see the module doc) "
                    "or set CW_AIO_ALLOW_HOST_NET=1")
    why = kamailio_missing()
    if why:
        pytest.skip(why)
    k = Kamailio(KAMAILIO_PORT, users=10, max_expires=300, tls=tls_available())
    k.start()
    yield k
    k.cleanup()


class Phones:
    def __init__(self, kamailio, base):
        self.kamailio, self.base, self.made = kamailio, base, []

    def __call__(self, kind, user, transport="udp", password=PASSWORD, expires=300, auth_user=None):
        ok, why = _available(kind)
        if not ok:
            pytest.skip(why)
        if transport == "tls" and not self.kamailio.tls_port:
            pytest.skip("Kamailio TLS listener unavailable (kamailio-tls-modules not installed)")
        proxy_port = self.kamailio.tls_port if transport == "tls" else self.kamailio.sip_port
        workdir = os.path.join(self.base, f"{kind}-{user}-{len(self.made)}")
        p = KINDS[kind](workdir, user, password, DOMAIN, proxy_port, next(_ports), transport=transport,
                        auth_user=auth_user, expires=expires)
        self.made.append(p)
        p.start()
        return p

    def diag(self):
        parts = [f"--- {p!r} log tail ---\n{p.log()[-2500:]}" for p in self.made]
        parts.append(f"--- kamailio log tail ---\n{self.kamailio.read_log()[-1500:]}")
        return "\n".join(parts)


@pytest.fixture
def phones(kamailio):
    base = tempfile.mkdtemp(prefix="softphones-")
    ph = Phones(kamailio, base)
    try:
        yield ph
    finally:
        for p in ph.made:
            p.stop()
        leftovers = [p for p in ph.made if p.proc is not None and p.proc.poll() is None]
        kamailio.flush_location()
        shutil.rmtree(base, ignore_errors=True)
        assert not leftovers, f"processes survived stop(): {leftovers}"


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("kind", list(KINDS))
def test_register_reports_granted_expiry_and_unregisters(phones, kamailio, kind, transport):
    p = phones(kind, ALICE, transport, expires=600)
    r = p.register()
    assert r.ok and r.status == 200, f"{r}\n{phones.diag()}"
    assert r.expires == 300, f"asked 600, Kamailio caps at 300: {r}\n{phones.diag()}"
    assert len(kamailio.bindings(ALICE)) == 1, kamailio.bindings(ALICE)
    assert p.unregister(), phones.diag()
    assert kamailio.bindings(ALICE) == [], kamailio.bindings(ALICE)
    # registering again after an unregister works too
    r = p.register()
    assert r.ok and r.expires == 300, f"{r}\n{phones.diag()}"


@pytest.mark.parametrize("kind", list(KINDS))
def test_register_wrong_password_fails(phones, kamailio, kind):
    p = phones(kind, EVE, "udp", password="not-the-password")
    for attempt in range(2):            # a second attempt is reported too (not a stale result)
        t0 = time.monotonic()
        r = p.register(timeout=15)
        assert not r.ok, f"attempt {attempt}: {r}\n{phones.diag()}"
        assert r.status in (401, 403), f"attempt {attempt}: {r}\n{phones.diag()}"
        assert r.expires is None
        assert time.monotonic() - t0 < 10, "a failed registration should be reported promptly"
    assert kamailio.bindings(EVE) == []


@pytest.mark.parametrize("kind", list(KINDS))
def test_register_with_auth_user_impi(phones, kamailio, kind):
    """auth_user reaches the digest username (IMS style IMPI user@domain; Kamailio's provisioned
    ha1b column = MD5(user@realm:realm:pw) accepts it)."""
    impi = f"{BOB}@{DOMAIN}"
    q = phones(kind, BOB, "udp", auth_user=impi)
    r = q.register()
    assert r.ok and r.expires == 300, f"{r}\n{phones.diag()}"
    assert f'username="{impi}"' in q.log(), phones.diag()
    assert len(kamailio.bindings(BOB)) == 1


def _check_tone(phone, diag):
    wav = phone.received_audio_wav()
    if wav is None and isinstance(phone, Baresip):
        pytest.fail(f"baresip recorded no audio\n{diag()}")
    assert wav is not None, f"{phone!r} recorded no audio\n{diag()}"
    f = tone_frequency(wav)
    assert f is not None and abs(f - TONE_HZ) <= TONE_TOLERANCE, f"{phone!r} received {f} Hz in {wav}\n{diag()}"


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("caller_kind,callee_kind", PAIRS, ids=[f"{a}-to-{b}" for a, b in PAIRS])
def test_call_audio_hangup_and_message(phones, kamailio, caller_kind, callee_kind, transport):
    a = phones(caller_kind, ALICE, transport)
    b = phones(callee_kind, BOB, transport)
    for p in (a, b):
        r = p.register()
        assert r.ok, f"{p!r}: {r}\n{phones.diag()}"

    # dial the bare number (one pair dials a full SIP URI), callee auto-answers
    a.call(f"sip:{BOB}@{DOMAIN}" if callee_kind == "pjsua2" else BOB)
    assert a.wait_call_state("ringing", 15), phones.diag()
    assert b.wait_call_state("established", 15), phones.diag()
    assert a.wait_call_state("established", 15), phones.diag()
    time.sleep(MEDIA_SECONDS)
    a.hangup()
    assert a.wait_call_state("closed", 10), phones.diag()
    assert b.wait_call_state("closed", 10), phones.diag()

    # both sides send a 440 Hz tone: each received it
    _check_tone(b, phones.diag)
    _check_tone(a, phones.diag)

    # MESSAGE both ways, the exact text arrives
    t1, t2 = f"hello bob {uuid.uuid4().hex[:8]}", f"hi alice {uuid.uuid4().hex[:8]}"
    a.send_message(BOB, t1)
    assert b.wait_message(t1, 10), phones.diag()
    assert t1 in [body for _, body in b.received_messages()], b.received_messages()
    b.send_message(f"{ALICE}@{DOMAIN}", t2)
    assert a.wait_message(t2, 10), phones.diag()
    assert t2 in [body for _, body in a.received_messages()], a.received_messages()


def test_second_call_after_first(phones, kamailio):
    """Call state tracking restarts per call: a second call between the same phones works."""
    a = phones("baresip", ALICE)
    b = phones("linphonec", BOB)
    assert a.register().ok and b.register().ok
    for _ in range(2):
        a.call(BOB)
        assert b.wait_call_state("established", 15), phones.diag()
        assert a.wait_call_state("established", 15), phones.diag()
        b.hangup()                      # the callee hangs up this time
        assert b.wait_call_state("closed", 10), phones.diag()
        assert a.wait_call_state("closed", 10), phones.diag()


def test_call_to_unregistered_number_closes(phones, kamailio):
    a = phones("pjsua2", ALICE)
    assert a.register().ok
    a.call("6505550009")                # provisioned, not registered: 404 from Kamailio
    assert a.wait_call_state("closed", 15), phones.diag()
    assert not a.wait_call_state("established", 0.5)
