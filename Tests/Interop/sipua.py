"""A tiny raw-socket SIP user agent for protocol-level assertions (digest auth, registrar rules).

Real softphones live in softphones.py; this one exists to look at exact headers and to send what
real clients would not (bad credentials, replayed nonces, huge Contact lists).
"""
import hashlib
import re
import socket
import uuid

from conftest import header, status_of
from softphones import split_contacts


def headers_all(msg: bytes, name: str):
    out = []
    names = {name.lower()}
    compact = {"contact": "m", "via": "v", "from": "f", "to": "t", "call-id": "i", "supported": "k"}
    if name.lower() in compact:
        names.add(compact[name.lower()])
    for line in msg.split(b"\r\n\r\n", 1)[0].split(b"\r\n")[1:]:
        if b":" in line:
            k, v = line.split(b":", 1)
            if k.strip().lower().decode() in names:
                out.append(v.strip().decode())
    return out


# Comma-splitting outside quotes and <> is the softphone drivers' helper; one copy serves both.
split_list = split_contacts


def parse_challenge(value: str) -> dict:
    assert value.lower().startswith("digest"), value
    params = {}
    for m in re.finditer(r'(\w[\w-]*)\s*=\s*("([^"\\]|\\.)*"|[^,\s]+)', value[6:]):
        v = m.group(2)
        params[m.group(1).lower()] = v[1:-1] if v.startswith('"') else v
    return params


def digest_response(alg, user, realm, password, method, uri, nonce, nc, cnonce, qop="auth"):
    h = hashlib.sha256 if alg.upper().startswith("SHA-256") else hashlib.md5
    ha1 = h(f"{user}:{realm}:{password}".encode()).hexdigest()
    ha2 = h(f"{method}:{uri}".encode()).hexdigest()
    if qop:
        return h(f"{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}".encode()).hexdigest()
    return h(f"{ha1}:{nonce}:{ha2}".encode()).hexdigest()


class UA:
    """One UDP (or TCP) socket, one AoR; builds REGISTER/SUBSCRIBE and answers digest challenges."""

    def __init__(self, server_port, number, password, domain="example.com", transport="UDP", auth_user=None):
        self.server_port = server_port
        self.number = number
        self.password = password
        self.domain = domain
        self.transport = transport
        self.auth_user = auth_user if auth_user is not None else f"{number}@{domain}"
        if transport == "UDP":
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self.sock.bind(("127.0.0.1", 0))
        else:
            self.sock = socket.create_connection(("127.0.0.1", server_port), timeout=5)
        self.port = self.sock.getsockname()[1]
        self.call_id = uuid.uuid4().hex
        self.cseq = 0
        self.tag = uuid.uuid4().hex[:8]
        self.nc = 0
        self.buffer = b""

    def close(self):
        self.sock.close()

    # --- transport ---
    def send(self, data: bytes):
        if self.transport == "UDP":
            self.sock.sendto(data, ("127.0.0.1", self.server_port))
        else:
            self.sock.sendall(data)

    def recv(self, timeout=3.0):
        self.sock.settimeout(timeout)
        if self.transport == "UDP":
            try:
                return self.sock.recvfrom(70000)[0]
            except socket.timeout:
                return None
        while True:
            if b"\r\n\r\n" in self.buffer:
                head, rest = self.buffer.split(b"\r\n\r\n", 1)
                m = re.search(rb"(?im)^(?:content-length|l)\s*:\s*(\d+)", head)
                n = int(m.group(1)) if m else 0
                if len(rest) >= n:
                    self.buffer = rest[n:]
                    return head + b"\r\n\r\n" + rest[:n]
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                return None
            if not chunk:
                return None
            self.buffer += chunk

    def recv_response(self, cseq, timeout=3.0):
        """The next final response for this CSeq (provisional and unrelated messages skipped)."""
        while True:
            msg = self.recv(timeout)
            if msg is None:
                return None
            if msg.startswith(b"SIP/2.0") and (header(msg, "CSeq") or "").startswith(f"{cseq} ") and status_of(msg) >= 200:
                return msg

    # --- requests ---
    def aor(self):
        return f"sip:{self.number}@{self.domain}"

    def request(self, method, uri, extra_headers=(), body=b"", to=None, auth=None):
        self.cseq += 1
        branch = "z9hG4bK" + uuid.uuid4().hex[:16]
        lines = [f"{method} {uri} SIP/2.0",
                 f"Via: SIP/2.0/{self.transport} 127.0.0.1:{self.port};branch={branch};rport",
                 "Max-Forwards: 70",
                 f"From: <{self.aor()}>;tag={self.tag}",
                 f"To: <{to or self.aor()}>",
                 f"Call-ID: {self.call_id}",
                 f"CSeq: {self.cseq} {method}"]
        if auth:
            lines.append(auth)
        lines += list(extra_headers)
        lines.append(f"Content-Length: {len(body)}")
        data = ("\r\n".join(lines) + "\r\n\r\n").encode() + body
        self.send(data)
        return self.cseq

    def contact(self, params=""):
        t = "" if self.transport == "UDP" else f";transport={self.transport.lower()}"
        return f"<sip:{self.number}@127.0.0.1:{self.port}{t}>{params}"

    def authorization(self, challenge_value, method, uri, password=None, nc=None, nonce=None, username=None):
        ch = parse_challenge(challenge_value)
        self.nc += 1
        nc_text = f"{(nc if nc is not None else self.nc):08x}"
        cnonce = uuid.uuid4().hex[:12]
        alg = ch.get("algorithm", "MD5")
        nonce = nonce or ch["nonce"]
        user = username if username is not None else self.auth_user
        resp = digest_response(alg, user, ch["realm"], password if password is not None else self.password,
                               method, uri, nonce, nc_text, cnonce)
        value = (f'Authorization: Digest username="{user}", realm="{ch["realm"]}", nonce="{nonce}", '
                 f'uri="{uri}", response="{resp}", algorithm={alg}, cnonce="{cnonce}", qop=auth, nc={nc_text}')
        if "opaque" in ch:
            value += f', opaque="{ch["opaque"]}"'
        return value

    def register(self, expires=300, contact=None, extra=(), password=None, to=None, username=None):
        """REGISTER, answer one 401, return (final response, first response)."""
        uri = f"sip:{self.domain}"
        contact_h = [f"Contact: {contact or self.contact()}"] if contact != "" else []
        hdrs = contact_h + [f"Expires: {expires}"] + list(extra)
        cseq = self.request("REGISTER", uri, hdrs, to=to)
        first = self.recv_response(cseq)
        if first is None or status_of(first) != 401:
            return first, first
        self.last_challenge = header(first, "WWW-Authenticate")
        auth = self.authorization(self.last_challenge, "REGISTER", uri, password=password, username=username)
        cseq = self.request("REGISTER", uri, hdrs, to=to, auth=auth)
        return self.recv_response(cseq), first
