"""Issue 5 security: no secret in logs or CLI output. With the server at log_level=debug, a subscriber is
provisioned with a known password (add, import, set-password), registers with good and bad credentials
(python digest and sipp), and the HSS REST interface hands out its HA1; then neither the server log nor
anything the CLI printed may contain the password, an HA1 derived from it (MD5 or SHA-256, over the
private id or the bare user name), the digest `response=` values the clients sent, or the server secret
(data_dir/secret, raw or hex)."""
import base64
import hashlib
import json
import os
import re
import subprocess
from urllib.parse import quote

from conftest import BIN, CwAio, status_of
from sipua import UA
from test_registration import REG_AUTH, http

REALM = "example.com"
USERS = {  # number -> password (distinctive strings that cannot occur by accident)
    "6505590001": "Zq7-added-Pa55word",
    "6505590002": "Zq7-imported-Pa55word",
    "6505590003": "Zq7-changed-Pa55word",
}
OLD_PASSWORD = "Zq7-old-Pa55word"


def run_cli(server, *args):
    r = subprocess.run([BIN, *args, "--set", f"data_dir={server.data_dir}"], capture_output=True, timeout=120)
    return r.returncode, (r.stdout + r.stderr)


def secrets_for(number, password):
    impi = f"{number}@{REALM}"
    out = {f"password of {number}": password.encode()}
    for user in (impi, number):
        for alg in ("md5", "sha256"):
            digest = hashlib.new(alg, f"{user}:{REALM}:{password}".encode()).hexdigest()
            out[f"{alg} HA1 of {user}"] = digest.encode()
    return out


def forbidden_in(blob: bytes, forbidden: dict):
    low = blob.lower()
    return [name for name, value in forbidden.items()
            if value in blob or (value.isascii() and value.lower() in low)]


def test_no_password_ha1_response_or_secret_in_logs_and_cli_output(tmp_path):
    s = CwAio(5330)
    os.makedirs(s.data_dir, exist_ok=True)
    outputs = []

    # --- provisioning through the CLI: add, import (good and refused), set-password, list ---
    def cli(*args, ok=True):
        rc, out = run_cli(s, *args)
        outputs.append((args, out))
        assert (rc == 0) == ok, out
        return out

    cli("subscriber", "add", "--number", "6505590001", "--password", USERS["6505590001"])
    csv = tmp_path / "users.csv"
    csv.write_text(f"public id,private id,realm,password\n"
                   f"sip:6505590002@{REALM},6505590002@{REALM},{REALM},{USERS['6505590002']}\n"
                   f"sip:6505590003@{REALM},6505590003@{REALM},{REALM},{OLD_PASSWORD}\n")
    cli("subscriber", "import", str(csv))
    bad = tmp_path / "bad.csv"
    bad.write_text(f"sip:6505590009@{REALM},6505590009@{REALM},{REALM},{USERS['6505590002']}\n"
                   f"sip:6505590009@{REALM},6505590009@{REALM},{REALM},{USERS['6505590002']}\n"
                   f"sip:6505590010@{REALM},6505590009@{REALM},{REALM},{USERS['6505590001']}\n")
    cli("subscriber", "import", str(bad), ok=False)
    cli("subscriber", "set-password", "--number", "6505590003", "--password", USERS["6505590003"])
    cli("subscriber", "add", "--number", "6505590001", "--password", USERS["6505590001"], ok=False)  # exists
    listing = cli("subscriber", "list")
    assert b"6505590001@example.com" in listing

    s.start()
    try:
        responses = set()

        def remember(ua):
            for line in ua.sent:
                m = re.search(r'response="([0-9a-f]+)"', line)
                if m:
                    responses.add(m.group(1).encode())

        # --- digest registrations: good, bare user name, wrong password, old password ---
        for number, password in USERS.items():
            ua = Recording(s.sip_port, number, password)
            assert status_of(ua.register()[0]) == 200
            remember(ua)
            ua.close()
        ua = Recording(s.sip_port, "6505590001", USERS["6505590001"], auth_user="6505590001")
        assert status_of(ua.register()[0]) == 200
        remember(ua)
        ua.close()
        for number, password in (("6505590002", "Zq7-wrong-Pa55word"), ("6505590003", OLD_PASSWORD)):
            ua = Recording(s.sip_port, number, password)
            assert status_of(ua.register()[0]) == 403
            remember(ua)
            ua.close()
        assert len(responses) >= 6

        # --- sipp with the same scenario the registration tests use ---
        inf = os.path.join(s.data_dir, "secret-users.inf")
        with open(inf, "w") as f:
            f.write("SEQUENTIAL\n")
            for number, password in USERS.items():
                f.write(f"{number};{password}\n")
        r = subprocess.run(["sipp", f"127.0.0.1:{s.sip_port}", "-sf", REG_AUTH, "-inf", inf, "-i", "127.0.0.1",
                            "-key", "ct_host", "127.0.0.1", "-key", "ct_port", "6409", "-p", "5409", "-t", "u1", "-m", str(len(USERS)), "-r", "10", "-timeout", "30s",
                            "-timeout_error", "-nostdin", "-trace_msg", "-message_file", "sipp-msgs.log"],
                           capture_output=True, timeout=60, cwd=s.data_dir)
        assert r.returncode == 0, r.stdout.decode()[-2000:]
        with open(os.path.join(s.data_dir, "sipp-msgs.log"), "rb") as f:
            responses |= set(re.findall(rb'response="([0-9a-f]+)"', f.read()))

        # --- a malformed REGISTER carrying real credentials: refused, and logged at debug level ---
        ua = Recording(s.sip_port, "6505590001", USERS["6505590001"])
        final, _ = ua.register()
        auth = ua.authorization(ua.last_challenge, "REGISTER", "sip:example.com")
        remember(ua)
        cseq = ua.request("REGISTER", "sip:example.com", [f"Contact: {ua.contact()}", "Expires: soon"], auth=auth)
        assert status_of(ua.recv_response(cseq)) == 400
        ua.send(b"REGISTER sip:example.com SIP/2.0\r\nVia: garbage\r\n" + auth.encode() + b"\r\n\r\n")
        ua.close()

        # --- the HSS REST interface hands the HA1 out (that is its job), the log must not echo it ---
        for number in USERS:
            impi, impu = quote(f"{number}@{REALM}", safe=""), quote(f"sip:{number}@{REALM}", safe="")
            status, body = http(s, "GET", f"/impi/{impi}/digest?public_id={impu}")
            assert status == 200
            assert json.loads(body)["digest_ha1"] == secrets_for(number, USERS[number])[f"md5 HA1 of {number}@{REALM}"].decode()
            status, _ = http(s, "GET", f"/impi/{impi}/av?impu={impu}")
            assert status == 200
    finally:
        rc = s.stop()
    assert rc == 0

    log = open(s.log_path, "rb").read()
    assert re.search(rb"(?m)^\S+ debug ", log), log[-2000:]  # debug logging was on and used
    with open(os.path.join(s.data_dir, "secret"), "rb") as f:
        secret = f.read()
    assert len(secret) >= 32
    forbidden = {"server secret (raw)": secret[:32], "server secret (hex)": secret[:32].hex().encode(),
                 "server secret (base64)": base64.b64encode(secret[:32]).rstrip(b"=")}
    for number, password in USERS.items():
        forbidden.update(secrets_for(number, password))
    forbidden.update(secrets_for("6505590003", OLD_PASSWORD))
    for i, value in enumerate(sorted(responses)):
        forbidden[f"digest response {i}"] = value

    leaks = forbidden_in(log, forbidden)
    assert not leaks, f"server log contains: {leaks}"
    for args, out in outputs:
        leaks = forbidden_in(out, forbidden)
        assert not leaks, f"`cw-aio {' '.join(args[:2])}` printed: {leaks}"


class Recording(UA):
    """A UA that keeps the Authorization lines it sent (to look for their response= values)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.sent = []

    def send(self, data: bytes):
        self.sent += [line for line in data.decode(errors="replace").split("\r\n")
                      if line.lower().startswith("authorization:")]
        super().send(data)
