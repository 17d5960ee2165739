"""Fixtures for the interop suite: a real cw-aio process and small raw-socket SIP helpers.

Runs inside a private network namespace (see run.sh): only 127.0.0.1 exists.
"""
import json
import os
import re
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.request
import uuid

import pytest

BIN = os.environ.get("CW_AIO_BIN", os.path.join(os.path.dirname(__file__), "../../.build/debug/cw-aio"))
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "../.."))
RFC4475 = os.path.join(ROOT, "Tests/SIPCoreTests/rfc4475")


class CwAio:
    """A cw-aio process on its own ports and data directory."""

    def __init__(self, sip_port, extra=()):
        self.sip_port = sip_port
        self.tls_port = sip_port + 1
        self.data_dir = tempfile.mkdtemp(prefix="cw-aio-test-")
        self.log_path = os.path.join(self.data_dir, "cw-aio.log")
        self.args = [BIN,
                     "--set", f"sip_port={sip_port}",
                     "--set", f"sip_tls_port={self.tls_port}",
                     "--set", f"data_dir={self.data_dir}",
                     "--set", "local_ip=127.0.0.1",
                     "--set", f"http_port={sip_port + 3000}",
                     "--set", f"hss_port={sip_port + 3001}",
                     "--set", "log_level=debug", *extra]
        self.proc = None

    def start(self, timeout=30):
        self.log = open(self.log_path, "wb")
        self.started_at = time.monotonic()
        self.proc = subprocess.Popen(self.args, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"cw-aio exited {self.proc.returncode}: {self.read_log()}")
            try:
                r = udp_exchange(self.sip_port, options_request(self.sip_port), timeout=0.3)
                if r and status_of(r[0]) == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError("cw-aio did not answer OPTIONS: " + self.read_log())

    def provision(self, csv_path, numbers, password=lambda n: f"pw{n}", timeout=120):
        """Before start(): imports subscribers sip:<n>@example.com (private identity <n>@example.com, the
        given password) with `cw-aio subscriber import`, as an operator would."""
        with open(csv_path, "w") as f:
            for n in numbers:
                f.write(f"sip:{n}@example.com,{n}@example.com,example.com,{password(n)}\n")
        os.makedirs(self.data_dir, exist_ok=True)
        r = subprocess.run([BIN, "subscriber", "import", str(csv_path), "--set", f"data_dir={self.data_dir}"],
                           capture_output=True, timeout=timeout)
        assert r.returncode == 0, (r.stdout + r.stderr).decode()

    def health(self):
        """GET /health on the HSS port, as JSON."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.sip_port + 3001}/health", timeout=5) as r:
            return json.loads(r.read())

    def read_log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, sig=signal.SIGTERM, timeout=15):
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode


@pytest.fixture(scope="module")
def server():
    s = CwAio(5070).start()
    yield s
    rc = s.stop()
    assert rc == 0, s.read_log()


def new_branch():
    return "z9hG4bK" + uuid.uuid4().hex[:16]


def options_request(port, transport="UDP", branch=None, extra="", local_port=5999, uri=None):
    branch = branch or new_branch()
    uri = uri or f"sip:127.0.0.1:{port}"
    return (f"OPTIONS {uri} SIP/2.0\r\n"
            f"Via: SIP/2.0/{transport} 127.0.0.1:{local_port};branch={branch};rport\r\n"
            "Max-Forwards: 70\r\n"
            f"From: <sip:probe@127.0.0.1>;tag={uuid.uuid4().hex[:8]}\r\n"
            f"To: <{uri}>\r\n"
            f"Call-ID: {uuid.uuid4().hex}@127.0.0.1\r\n"
            "CSeq: 1 OPTIONS\r\n"
            f"{extra}"
            "Content-Length: 0\r\n\r\n").encode()


def status_of(response: bytes) -> int:
    m = re.match(rb"SIP/2\.0 (\d{3}) ", response)
    return int(m.group(1)) if m else -1


def header(response: bytes, name: str):
    for line in response.split(b"\r\n\r\n", 1)[0].split(b"\r\n")[1:]:
        if b":" in line:
            k, v = line.split(b":", 1)
            if k.strip().lower() == name.lower().encode():
                return v.strip().decode()
    return None


def udp_exchange(port, data, timeout=1.0, expect=1, sock=None):
    """Sends one datagram and collects up to `expect` responses (fewer on timeout)."""
    own = sock is None
    s = sock or socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        if own:
            s.bind(("127.0.0.1", 0))
        s.settimeout(timeout)
        s.sendto(data, ("127.0.0.1", port))
        out = []
        end = time.monotonic() + timeout
        while len(out) < expect and time.monotonic() < end:
            try:
                out.append(s.recvfrom(70000)[0])
            except socket.timeout:
                break
        return out
    finally:
        if own:
            s.close()


_stream_leftovers = {}


def read_sip_stream(sock, timeout=2.0):
    """Reads one SIP message from a stream socket (by Content-Length); bytes of the next message
    that arrived in the same segment are kept for the next call."""
    sock.settimeout(timeout)
    buf = _stream_leftovers.pop(id(sock), b"")
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            return buf
        buf += chunk
    head, rest = buf.split(b"\r\n\r\n", 1)
    m = re.search(rb"(?im)^(?:content-length|l)\s*:\s*(\d+)", head)
    length = int(m.group(1)) if m else 0
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        rest += chunk
    if len(rest) > length:
        _stream_leftovers[id(sock)] = rest[length:]
    return head + b"\r\n\r\n" + rest[:length]


def tls_connect(port):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    raw = socket.create_connection(("127.0.0.1", port), timeout=5)
    return ctx.wrap_socket(raw, server_hostname="127.0.0.1")
