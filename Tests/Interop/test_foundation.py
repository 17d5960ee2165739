"""Issue 2: the SIP element answers OPTIONS over UDP/TCP/TLS, refuses what it cannot handle with a
proper final response, survives the RFC 4475 torture messages and garbage, and shuts down cleanly."""
import glob
import os
import re
import signal
import socket
import subprocess
import time

import pytest

from conftest import (BIN, HERE, RFC4475, CwAio, header, new_branch, options_request, read_sip_stream,
                      status_of, tls_connect, udp_exchange)

SIPP_OPTIONS = os.path.join(HERE, "scenarios/options.xml")

# RFC 4475 §3.1.2: invalid messages. Requests must be refused with a 4xx/5xx; responses are dropped.
INVALID = ["badinv01", "clerr", "ncl", "scalar02", "scalarlg", "quotbal", "ltgtruri", "lwsruri",
           "lwsstart", "trws", "escruri", "baddate", "regbadct", "badaspec", "baddn", "badvers",
           "mismatch01", "mismatch02", "bigcode"]


def via_port(message: bytes) -> int:
    m = re.search(rb"(?im)^(?:via|v)\s*:\s*SIP\s*/\s*2\.0\s*/\s*\w+\s+[^;:,\s]+:(\d+)", message)
    return int(m.group(1)) if m else 5060


def test_options_udp_sipp(server):
    r = subprocess.run(["sipp", "-sf", SIPP_OPTIONS, f"127.0.0.1:{server.sip_port}", "-t", "u1",
                        "-m", "5", "-r", "5", "-timeout", "20s", "-timeout_error", "-nostdin", "-trace_err",
                        "-i", "127.0.0.1", "-p", "5301"], capture_output=True, timeout=60, cwd="/tmp")
    assert r.returncode == 0, r.stdout.decode() + r.stderr.decode()


def test_options_tcp_sipp(server):
    r = subprocess.run(["sipp", "-sf", SIPP_OPTIONS, f"127.0.0.1:{server.sip_port}", "-t", "t1",
                        "-m", "5", "-r", "5", "-timeout", "20s", "-timeout_error", "-nostdin", "-trace_err",
                        "-i", "127.0.0.1", "-p", "5302"], capture_output=True, timeout=60, cwd="/tmp")
    assert r.returncode == 0, r.stdout.decode() + r.stderr.decode()


def test_sipsak_options(server):
    r = subprocess.run(["sipsak", "-vv", "-s", f"sip:127.0.0.1:{server.sip_port}"],
                       capture_output=True, timeout=30)
    out = r.stdout.decode(errors="replace")
    assert r.returncode == 0, out + r.stderr.decode(errors="replace")
    assert "200 OK" in out


def test_options_response_headers(server):
    [resp] = udp_exchange(server.sip_port, options_request(server.sip_port))
    assert status_of(resp) == 200
    allow = header(resp, "Allow")
    for method in ["INVITE", "ACK", "CANCEL", "BYE", "OPTIONS", "REGISTER"]:
        assert method in allow
    assert header(resp, "Accept") is not None
    assert header(resp, "Supported") is not None
    # RFC 3581: rport filled with our source port, received with our address.
    via = header(resp, "Via")
    assert re.search(r"rport=\d+", via) and "received=127.0.0.1" in via


def test_options_tls(server):
    s = tls_connect(server.tls_port)
    try:
        s.sendall(options_request(server.sip_port, transport="TLS", local_port=s.getsockname()[1]))
        resp = read_sip_stream(s)
        assert status_of(resp) == 200, resp
        assert s.version() in ("TLSv1.2", "TLSv1.3")
    finally:
        s.close()


def test_udp_retransmission_absorbed(server):
    """The same request twice is one transaction: the second copy gets the same response again."""
    req = options_request(server.sip_port, branch=new_branch())
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    try:
        first = udp_exchange(server.sip_port, req, sock=s)
        second = udp_exchange(server.sip_port, req, sock=s)
        assert first and second
        assert status_of(first[0]) == 200 and first[0] == second[0]
    finally:
        s.close()


def test_unknown_method_501(server):
    req = options_request(server.sip_port).replace(b"OPTIONS", b"FROBNICATE")
    [resp] = udp_exchange(server.sip_port, req)
    assert status_of(resp) == 501
    assert header(resp, "Allow")


def test_malformed_header_400_names_it(server):
    req = options_request(server.sip_port).replace(b"CSeq: 1 OPTIONS", b"CSeq: one OPTIONS")
    [resp] = udp_exchange(server.sip_port, req)
    assert status_of(resp) == 400
    assert b"CSeq" in resp.split(b"\r\n", 1)[0], resp.split(b"\r\n", 1)[0]


def test_unsupported_uri_scheme_416(server):
    req = options_request(server.sip_port, uri="mailto:someone@example.com")
    [resp] = udp_exchange(server.sip_port, req)
    assert status_of(resp) == 416


def test_max_forwards_zero_483(server):
    req = options_request(server.sip_port, uri="sip:someone@elsewhere.example.net").replace(
        b"Max-Forwards: 70", b"Max-Forwards: 0")
    [resp] = udp_exchange(server.sip_port, req)
    assert status_of(resp) == 483


def test_oversized_message_refused(server):
    big = "X-Padding: " + "a" * 70000 + "\r\n"
    req = options_request(server.sip_port, extra=big)
    s = socket.create_connection(("127.0.0.1", server.sip_port), timeout=5)
    try:
        s.sendall(req)
        s.settimeout(5)
        data = b""
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        except (socket.timeout, ConnectionResetError):
            pass
        # Either an explicit 513 or a closed connection; never a 200.
        assert status_of(data) in (-1, 413, 513), data[:200]
    finally:
        s.close()
    assert server.alive()


@pytest.mark.parametrize("name", sorted(os.path.basename(p)[:-4] for p in glob.glob(os.path.join(RFC4475, "*.dat"))))
def test_rfc4475_over_udp(server, name):
    with open(os.path.join(RFC4475, name + ".dat"), "rb") as f:
        data = f.read()
    is_request = not data.startswith(b"SIP/")
    port = via_port(data)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    # A message whose Via names the server's own port is sent from an ephemeral port: its answer
    # then goes to the server itself (which must absorb it), not to us.
    s.bind(("127.0.0.1", 0 if port == server.sip_port else port))
    try:
        replies = udp_exchange(server.sip_port, data, timeout=1.5, sock=s, expect=5)
    finally:
        s.close()
    # Only answers to this message count: an earlier INVITE's final response is retransmitted
    # (Timer G) to the same port until its ACK, which these one-shot messages never send.
    call_id = re.search(rb"(?im)^(?:call-id|i)\s*:\s*(\S+)", data)
    if call_id:
        replies = [r for r in replies if call_id.group(1) in r]
    assert server.alive(), server.read_log()[-3000:]
    if name in INVALID:
        if is_request:
            assert replies or port == server.sip_port, f"{name}: no answer to an invalid request"
            assert 400 <= status_of(replies[0]) < 600, replies[0][:200]
        else:
            assert not replies, f"{name}: answered a response"
    for r in replies:
        assert status_of(r) >= 100
    # The element keeps serving after every message.
    [ok] = udp_exchange(server.sip_port, options_request(server.sip_port))
    assert status_of(ok) == 200


def test_tcp_garbage_closes_only_that_connection(server):
    good = socket.create_connection(("127.0.0.1", server.sip_port), timeout=5)
    bad = socket.create_connection(("127.0.0.1", server.sip_port), timeout=5)
    try:
        bad.sendall(b"\x16\x03\x01 this is not SIP at all\r\n\r\n\x00\xff")
        bad.settimeout(5)
        closed = False
        try:
            while True:
                if not bad.recv(4096):
                    closed = True
                    break
        except ConnectionResetError:
            closed = True
        assert closed
        good.sendall(options_request(server.sip_port, transport="TCP", local_port=good.getsockname()[1]))
        assert status_of(read_sip_stream(good)) == 200
    finally:
        good.close()
        bad.close()


def test_tcp_keepalive_ping_pong(server):
    s = socket.create_connection(("127.0.0.1", server.sip_port), timeout=5)
    try:
        s.sendall(b"\r\n\r\n")
        s.settimeout(3)
        assert s.recv(16) == b"\r\n"
        # The connection still carries SIP afterwards.
        s.sendall(options_request(server.sip_port, transport="TCP", local_port=s.getsockname()[1]))
        assert status_of(read_sip_stream(s)) == 200
    finally:
        s.close()


def test_tcp_split_and_pipelined(server):
    s = socket.create_connection(("127.0.0.1", server.sip_port), timeout=5)
    try:
        lp = s.getsockname()[1]
        a = options_request(server.sip_port, transport="TCP", local_port=lp)
        b = options_request(server.sip_port, transport="TCP", local_port=lp)
        for i in range(0, len(a), 7):
            s.sendall(a[i:i + 7])
            time.sleep(0.001)
        assert status_of(read_sip_stream(s)) == 200
        c = options_request(server.sip_port, transport="TCP", local_port=lp)
        s.sendall(c + b)
        assert status_of(read_sip_stream(s)) == 200
        assert status_of(read_sip_stream(s)) == 200
    finally:
        s.close()


def test_config_error_names_file_line_key(tmp_path):
    conf = tmp_path / "bad.conf"
    conf.write_text("# comment\nhome_domain=example.com\nsip_port=70000\n")
    r = subprocess.run([BIN, "--config", str(conf)], capture_output=True, timeout=30)
    err = (r.stdout + r.stderr).decode()
    assert r.returncode != 0
    assert "bad.conf:3" in err and "sip_port" in err, err
    conf.write_text("no_such_key=1\n")
    r = subprocess.run([BIN, "--config", str(conf)], capture_output=True, timeout=30)
    err = (r.stdout + r.stderr).decode()
    assert r.returncode != 0 and "bad.conf:1" in err and "no_such_key" in err, err
    conf.write_text("this line has no equals sign\n")
    r = subprocess.run([BIN, "--config", str(conf)], capture_output=True, timeout=30)
    assert r.returncode != 0 and "bad.conf:1" in (r.stdout + r.stderr).decode()
    r = subprocess.run([BIN, "--set", "log_level=loud"], capture_output=True, timeout=30)
    err = (r.stdout + r.stderr).decode()
    assert r.returncode != 0 and "log_level" in err, err


def test_help_documents_every_key():
    r = subprocess.run([BIN, "--help"], capture_output=True, timeout=30)
    out = r.stdout.decode()
    assert r.returncode == 0
    with open(os.path.join(HERE, "../../cw-aio.conf")) as f:
        keys = [l.split("=", 1)[0].strip() for l in f if "=" in l and not l.lstrip().startswith("#")]
    assert keys
    for k in keys:
        assert k in out, k


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_clean_shutdown(sig):
    s = CwAio(5080).start()
    assert "5080" in s.read_log()  # the banner names the ports
    assert s.stop(sig) == 0, s.read_log()


def test_udp_stun_keepalive_answered(server):
    """RFC 5626 §4.4.2: a STUN Binding request on the SIP port gets the client's mapped address."""
    import struct
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.settimeout(2)
    try:
        tid = os.urandom(12)
        s.sendto(struct.pack("!HHI", 1, 0, 0x2112A442) + tid, ("127.0.0.1", server.sip_port))
        d = s.recv(200)
        assert struct.unpack("!H", d[:2])[0] == 0x0101 and d[8:20] == tid
        port = struct.unpack("!H", d[26:28])[0] ^ 0x2112
        ip = struct.unpack("!I", d[28:32])[0] ^ 0x2112A442
        assert (socket.inet_ntoa(struct.pack("!I", ip)), port) == s.getsockname()
    finally:
        s.close()
