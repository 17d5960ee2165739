"""Issue 4, the P-CSCF edge: only registered flows originate, the network asserts the caller's
identity (a forged P-Asserted-Identity is replaced), and a callee whose Contact is a private,
unreachable address still gets its calls over the flow its REGISTER used (NAT)."""
import os
import subprocess
import time
import uuid

import pytest

from conftest import BIN, CwAio, header, status_of
from sipua import UA, headers_all

SDP = (b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
       b"m=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n")


@pytest.fixture(scope="module")
def edge_server():
    s = CwAio(5230)
    os.makedirs(s.data_dir, exist_ok=True)
    for n in ("6505556001", "6505556002"):
        r = subprocess.run([BIN, "subscriber", "add", "--number", n, "--password", "pw" + n,
                            "--set", f"data_dir={s.data_dir}"], capture_output=True, timeout=60)
        assert r.returncode == 0
    s.start()
    yield s
    assert s.stop() == 0


def respond(ua, request, status, reason, extra=()):
    lines = request.split(b"\r\n\r\n", 1)[0].decode().split("\r\n")
    keep = [l for l in lines[1:] if l.split(":", 1)[0].strip().lower() in
            ("via", "v", "from", "f", "to", "t", "call-id", "i", "cseq", "record-route")]
    keep = [l + (";tag=callee1" if l.lower().startswith(("to:", "t:")) and "tag=" not in l else "") for l in keep]
    ua.send((f"SIP/2.0 {status} {reason}\r\n" + "\r\n".join(keep + list(extra)) + "\r\nContent-Length: 0\r\n\r\n").encode())


def wait_request(ua, method, timeout=5):
    end = time.time() + timeout
    while time.time() < end:
        m = ua.recv(max(0.1, end - time.time()))
        if m and m.startswith(method.encode() + b" "):
            return m
    return None


def test_unregistered_flow_cannot_originate(edge_server):
    ua = UA(edge_server.sip_port, "6505556001", "pw6505556001")
    cseq = ua.request("INVITE", "sip:6505556002@example.com", ["Contact: " + ua.contact(), "Content-Type: application/sdp"],
                      body=SDP)
    r = ua.recv_response(cseq)
    assert status_of(r) == 403, r


def test_identity_asserted_and_private_contact_reached_over_flow(edge_server):
    callee = UA(edge_server.sip_port, "6505556002", "pw6505556002")
    # A Contact no one listens on (as behind a NAT): only the flow reaches this UA.
    final, _ = callee.register(contact="<sip:6505556002@127.0.0.2:5999>")
    assert status_of(final) == 200
    caller = UA(edge_server.sip_port, "6505556001", "pw6505556001")
    assert status_of(caller.register()[0]) == 200
    cseq = caller.request("INVITE", "sip:6505556002@example.com",
                          ["Contact: " + caller.contact(), "Content-Type: application/sdp",
                           "P-Asserted-Identity: <sip:boss@example.com>"], body=SDP)
    invite = wait_request(callee, "INVITE")
    assert invite is not None, edge_server.read_log()[-3000:]
    assert invite.split(b"\r\n", 1)[0] == b"INVITE sip:6505556002@127.0.0.2:5999 SIP/2.0"
    assert headers_all(invite, "P-Asserted-Identity") == ["<sip:6505556001@example.com>"]
    assert len(headers_all(invite, "Record-Route")) == 2
    assert header(invite, "Session-Expires") == "600"
    respond(callee, invite, 486, "Busy Here")
    r = caller.recv_response(cseq, timeout=5)
    assert status_of(r) == 486, r


@pytest.mark.parametrize("accept_contact", ["*;=", "*;=;require;explicit", '*;sip.audio;= ;+sip.instance="<x>"',
                                            "*;sip.methods=\"INVITE,\u0301BYE\"", "*;,=,;"])
def test_hostile_caller_preferences_get_an_answer(edge_server, accept_contact):
    """RFC 3841 Accept-Contact is matched against the callee's contacts: a malformed feature
    parameter (a bare "=" used to trap in the predicate parser) is ignored, the call proceeds."""
    callee = UA(edge_server.sip_port, "6505556002", "pw6505556002")
    # Only this UA's contact: earlier tests' bindings point at flows nobody answers (the fork would wait).
    assert status_of(callee.register(contact="*", expires=0)[0]) == 200
    assert status_of(callee.register(contact=callee.contact(';+sip.instance="<urn:uuid:1>"'))[0]) == 200
    caller = UA(edge_server.sip_port, "6505556001", "pw6505556001")
    assert status_of(caller.register()[0]) == 200
    cseq = caller.request("INVITE", "sip:6505556002@example.com",
                          ["Contact: " + caller.contact(), "Content-Type: application/sdp",
                           "Accept-Contact: " + accept_contact], body=SDP)
    invite = wait_request(callee, "INVITE")
    if invite is not None:
        respond(callee, invite, 486, "Busy Here")
    r = caller.recv_response(cseq, timeout=5)
    assert edge_server.alive(), edge_server.read_log()[-3000:]
    assert r is not None and status_of(r) >= 300, edge_server.read_log()[-3000:]
    callee.register(expires=0)
