"""Issue 3: REGISTER through the P/I/S-CSCF chain with digest auth, the registrar rules, reg-event,
provisioning from the CLI while the server runs, and bindings that survive kill -9."""
import os
import re
import signal
import socket
import subprocess
import time
import uuid

import pytest

from conftest import BIN, HERE, CwAio, header, status_of
from sipua import UA, headers_all, split_list

REG_AUTH = os.path.join(HERE, "scenarios/reg_auth.xml")
N_USERS = 1000
BASE = 6505550000


def cli(server, *args, check=True):
    r = subprocess.run([BIN, "subscriber", *args, "--set", f"data_dir={server.data_dir}"],
                       capture_output=True, timeout=120)
    if check:
        assert r.returncode == 0, (r.stdout + r.stderr).decode()
    return r


@pytest.fixture(scope="module")
def reg_server(tmp_path_factory):
    s = CwAio(5110)
    csv = tmp_path_factory.mktemp("prov") / "users.csv"
    with open(csv, "w") as f:
        f.write("# public id, private id, realm, password\n")
        for i in range(N_USERS):
            n = BASE + i
            f.write(f"sip:{n}@example.com,{n}@example.com,example.com,pw{n}\n")
        # Users for the protocol tests below (the sipp tests register the BASE block).
        for i in range(100):
            n = 6505554000 + i
            f.write(f"sip:{n}@example.com,{n}@example.com,example.com,pw{n}\n")
        # Two public identities sharing one private identity: one implicit registration set.
        f.write("sip:6505551000@example.com,shared@example.com,example.com,sharedpw\n")
        f.write("sip:6505551001@example.com,shared@example.com,example.com,sharedpw\n")
    os.makedirs(s.data_dir, exist_ok=True)
    cli(s, "import", str(csv))
    s.start()
    yield s
    assert s.stop() == 0, s.read_log()[-3000:]


def sipp_register(server, transport, count, rate, port, key="n"):
    inf = os.path.join(server.data_dir, f"users-{transport}.inf")
    with open(inf, "w") as f:
        f.write("SEQUENTIAL\n")
        for i in range(count):
            f.write(f"{BASE + i};pw{BASE + i}\n")
    r = subprocess.run(["sipp", f"127.0.0.1:{server.sip_port}", "-sf", REG_AUTH, "-inf", inf,
                        "-key", "ct_host", "127.0.0.1", "-key", "ct_port", str(port + 1000),
                        "-i", "127.0.0.1", "-p", str(port), "-t", transport, "-max_socket", "100",
                        "-m", str(count), "-r", str(rate), "-timeout", "60s", "-timeout_error",
                        "-nostdin", "-trace_err", "-error_file", os.path.join(server.data_dir, f"sipp-{transport}.err")],
                       capture_output=True, timeout=180, cwd=server.data_dir)
    return r


def test_sipp_register_1000_udp(reg_server):
    r = sipp_register(reg_server, "u1", N_USERS, 250, 5401)
    err = open(os.path.join(reg_server.data_dir, "sipp-u1.err")).read()[-2000:] if r.returncode else ""
    assert r.returncode == 0, r.stdout.decode()[-2000:] + err


def test_sipp_register_1000_tcp(reg_server):
    r = sipp_register(reg_server, "tn", N_USERS, 250, 5403)
    err = open(os.path.join(reg_server.data_dir, "sipp-tn.err")).read()[-2000:] if r.returncode else ""
    assert r.returncode == 0, r.stdout.decode()[-2000:] + err


def test_challenge_shape(reg_server):
    ua = UA(reg_server.sip_port, "6505554010", "pw6505554010")
    cseq = ua.request("REGISTER", "sip:example.com", [f"Contact: {ua.contact()}"])
    r = ua.recv_response(cseq)
    assert status_of(r) == 401
    ch = header(r, "WWW-Authenticate")
    for part in ['Digest realm="example.com"', 'nonce="', 'opaque="', "algorithm=MD5", 'qop="auth"']:
        assert part in ch, ch


def test_unauthenticated_register_answered_statelessly(reg_server):
    """RFC 3261 §8.2.7: the challenge to a REGISTER without credentials keeps no transaction. A
    retransmission is answered again with the same To tag (tags generated statelessly) and a fresh
    nonce; a flood of them leaves /health's server_transactions where it was."""
    import json
    ua = UA(reg_server.sip_port, "6505554010", "pw6505554010")

    def server_transactions():
        status, body = http(reg_server, "GET", "/health")
        assert status == 200, body
        return json.loads(body)["server_transactions"]

    before = server_transactions()
    lines = ["REGISTER sip:example.com SIP/2.0",
             f"Via: SIP/2.0/UDP 127.0.0.1:{ua.port};branch=z9hG4bKstateless1;rport",
             "Max-Forwards: 70", f"From: <{ua.aor()}>;tag=st1", f"To: <{ua.aor()}>",
             "Call-ID: stateless-1@127.0.0.1", "CSeq: 1 REGISTER", f"Contact: {ua.contact()}", "Content-Length: 0"]
    data = ("\r\n".join(lines) + "\r\n\r\n").encode()
    answers = []
    for _ in range(2):
        ua.send(data)
        r = ua.recv_response(1)
        assert r is not None and status_of(r) == 401
        answers.append(r)
    tags = [re.search(r";tag=([^;\s>]+)", header(a, "To")).group(1) for a in answers]
    assert tags[0] == tags[1], tags
    assert header(answers[0], "Via") == header(answers[1], "Via")
    nonces = [re.search(r'nonce="([^"]+)"', header(a, "WWW-Authenticate")).group(1) for a in answers]
    assert nonces[0] != nonces[1]
    # A different request gets a different tag.
    ua.request("REGISTER", "sip:example.com", [f"Contact: {ua.contact()}"])
    other = ua.recv_response(ua.cseq)
    assert status_of(other) == 401 and tags[0] not in header(other, "To")
    for _ in range(200):
        ua.request("REGISTER", "sip:example.com", [f"Contact: {ua.contact()}"])
        assert status_of(ua.recv_response(ua.cseq)) == 401
    assert server_transactions() <= before
    # And the challenge still leads to a registration (the authenticated leg is stateful).
    final, _ = ua.register()
    assert status_of(final) == 200
    ua.close()


def test_register_granted_max_expires_and_headers(reg_server):
    ua = UA(reg_server.sip_port, "6505554011", "pw6505554011")
    final, _ = ua.register(expires=3600)
    assert status_of(final) == 200, final
    contacts = split_list(headers_all(final, "Contact"))
    assert len(contacts) == 1 and re.search(r";expires=300\b", contacts[0]), contacts
    assert header(final, "Service-Route")
    assert header(final, "Path")  # the P-CSCF's Path, echoed (RFC 3327)
    assert split_list(headers_all(final, "P-Associated-URI")) == ["<sip:6505554011@example.com>"]


def test_bare_username_is_read_as_impi_in_home_domain(reg_server):
    ua = UA(reg_server.sip_port, "6505554012", "pw6505554012", auth_user="6505554012")
    final, _ = ua.register()
    assert status_of(final) == 200, final


def test_wrong_password_403(reg_server):
    ua = UA(reg_server.sip_port, "6505554013", "not-the-password")
    final, first = ua.register()
    assert status_of(first) == 401
    assert status_of(final) == 403


def test_unknown_user_challenged_then_403(reg_server):
    """Unknown and known users see the same answers (no enumeration)."""
    ua = UA(reg_server.sip_port, "4155550000", "whatever")
    final, first = ua.register()
    assert status_of(first) == 401 and status_of(final) == 403


def test_other_users_aor_with_own_credentials_403(reg_server):
    ua = UA(reg_server.sip_port, "6505554014", "pw6505554014")
    final, _ = ua.register(to="sip:6505554015@example.com")
    assert status_of(final) == 403


def test_shared_private_identity_lists_both_public_identities(reg_server):
    ua = UA(reg_server.sip_port, "6505551000", "sharedpw", auth_user="shared@example.com")
    final, _ = ua.register()
    assert status_of(final) == 200, final
    pau = split_list(headers_all(final, "P-Associated-URI"))
    assert set(pau) == {"<sip:6505551000@example.com>", "<sip:6505551001@example.com>"}, pau


def test_forged_nonce_rechallenged_and_stale_flag(reg_server):
    ua = UA(reg_server.sip_port, "6505554016", "pw6505554016")
    cseq = ua.request("REGISTER", "sip:example.com", [f"Contact: {ua.contact()}"])
    ch = header(ua.recv_response(cseq), "WWW-Authenticate")
    forged = ch.replace('nonce="', 'nonce="AAAA', 1)
    auth = ua.authorization(forged, "REGISTER", "sip:example.com")
    cseq = ua.request("REGISTER", "sip:example.com", [f"Contact: {ua.contact()}"], auth=auth)
    r = ua.recv_response(cseq)
    assert status_of(r) == 401 and "stale=true" not in header(r, "WWW-Authenticate")
    # A replayed nc on a good nonce → stale=true (RFC 7616 §3.4.5 asks for a fresh nonce).
    auth = ua.authorization(ch, "REGISTER", "sip:example.com", nc=1)
    cseq = ua.request("REGISTER", "sip:example.com", [f"Contact: {ua.contact()}"], auth=auth)
    assert status_of(ua.recv_response(cseq)) == 200
    cseq = ua.request("REGISTER", "sip:example.com", [f"Contact: {ua.contact()}"], auth=auth)
    r = ua.recv_response(cseq)
    assert status_of(r) == 401 and "stale=true" in header(r, "WWW-Authenticate"), r


def test_malformed_authorization_400(reg_server):
    ua = UA(reg_server.sip_port, "6505554017", "pw6505554017")
    cseq = ua.request("REGISTER", "sip:example.com", [f"Contact: {ua.contact()}"],
                      auth='Authorization: Digest username="x", realm="example.com", nonce="abc, uri=')
    r = ua.recv_response(cseq)
    assert status_of(r) == 400


def test_expires_garbage_400_and_huge_contact_list_refused(reg_server):
    ua = UA(reg_server.sip_port, "6505554018", "pw6505554018")
    final, _ = ua.register(extra=[], contact=ua.contact())
    assert status_of(final) == 200
    cseq = ua.request("REGISTER", "sip:example.com", [f"Contact: {ua.contact()}", "Expires: soon"],
                      auth=ua.authorization(ua.last_challenge, "REGISTER", "sip:example.com"))
    assert status_of(ua.recv_response(cseq)) == 400
    many = [f"Contact: <sip:u{i}@127.0.0.1:{6000 + i}>" for i in range(200)]
    cseq = ua.request("REGISTER", "sip:example.com", many,
                      auth=ua.authorization(ua.last_challenge, "REGISTER", "sip:example.com"))
    assert status_of(ua.recv_response(cseq)) in (400, 403)


def test_wildcard_removes_all(reg_server):
    ua = UA(reg_server.sip_port, "6505554019", "pw6505554019")
    assert status_of(ua.register(contact="<sip:a@127.0.0.1:7001>")[0]) == 200
    final, _ = ua.register(contact="<sip:b@127.0.0.1:7002>")
    assert len(split_list(headers_all(final, "Contact"))) == 2
    final, _ = ua.register(contact="*", expires=0)
    assert status_of(final) == 200 and not headers_all(final, "Contact"), final


def test_gruu_and_outbound(reg_server):
    ua = UA(reg_server.sip_port, "6505554020", "pw6505554020")
    inst = f'"<urn:uuid:{uuid.uuid4()}>"'
    final, _ = ua.register(contact=ua.contact(f";+sip.instance={inst};reg-id=1"),
                           extra=["Supported: gruu, outbound, path"])
    assert status_of(final) == 200, final
    c = split_list(headers_all(final, "Contact"))[0]
    assert "pub-gruu=" in c and ";gr=urn:uuid:" in c, c
    assert "outbound" in (header(final, "Require") or ""), final


def test_reg_event_notifies_register_refresh_expire(reg_server):
    ua = UA(reg_server.sip_port, "6505554021", "pw6505554021")
    final, _ = ua.register(expires=300)
    assert status_of(final) == 200
    cseq = ua.request("SUBSCRIBE", ua.aor(), [f"Contact: {ua.contact()}", "Event: reg",
                                              "Accept: application/reginfo+xml", "Expires: 600"])
    notifies = []
    got_ok = False
    deadline = time.time() + 5
    while time.time() < deadline and not (got_ok and notifies):
        m = ua.recv(2)
        if m is None:
            break
        if m.startswith(b"SIP/2.0"):
            got_ok = got_ok or status_of(m) == 200
        elif m.startswith(b"NOTIFY"):
            notifies.append(m)
            answer_notify(ua, m)
    assert got_ok and notifies
    body = notifies[0].split(b"\r\n\r\n", 1)[1].decode()
    assert header(notifies[0], "Content-Type") == "application/reginfo+xml"
    assert 'state="full"' in body and "sip:6505554021@example.com" in body and 'state="active"' in body, body
    # A second binding with 2 s expiry: NOTIFY on registration, then on expiry.
    auth = ua.authorization(ua.last_challenge, "REGISTER", "sip:example.com")
    cseq = ua.request("REGISTER", "sip:example.com", ["Contact: <sip:other@127.0.0.1:7100>;expires=2"], auth=auth)
    seen = collect_notifies(ua, 6)
    bodies = [n.split(b"\r\n\r\n", 1)[1].decode() for n in seen]
    assert any('event="registered"' in b for b in bodies), bodies
    assert any('event="expired"' in b for b in bodies), bodies


def answer_notify(ua, notify):
    lines = notify.split(b"\r\n\r\n", 1)[0].decode().split("\r\n")
    keep = [l for l in lines[1:] if l.split(":", 1)[0].strip().lower() in ("via", "from", "to", "call-id", "cseq", "v", "f", "t", "i")]
    ua.send(("SIP/2.0 200 OK\r\n" + "\r\n".join(keep) + "\r\nContent-Length: 0\r\n\r\n").encode())


def collect_notifies(ua, seconds):
    out = []
    end = time.time() + seconds
    while time.time() < end:
        m = ua.recv(max(0.1, end - time.time()))
        if m is None:
            continue
        if m.startswith(b"NOTIFY"):
            out.append(m)
            answer_notify(ua, m)
    return out


def test_cli_provisioning_seen_by_running_server(reg_server):
    cli(reg_server, "add", "--number", "6505552000", "--password", "newpw")
    time.sleep(1.2)
    ua = UA(reg_server.sip_port, "6505552000", "newpw")
    assert status_of(ua.register()[0]) == 200
    # Duplicates and bad input: non-zero exit, nothing changed.
    assert cli(reg_server, "add", "--number", "6505552000", "--password", "x", check=False).returncode != 0
    assert cli(reg_server, "add", "--number", "65055x", "--password", "x", check=False).returncode != 0
    assert cli(reg_server, "add", "--number", "6505552001", "--password", "", check=False).returncode != 0
    cli(reg_server, "set-password", "--number", "6505552000", "--password", "changed")
    time.sleep(1.2)
    ua = UA(reg_server.sip_port, "6505552000", "newpw")
    assert status_of(ua.register()[0]) == 403
    ua = UA(reg_server.sip_port, "6505552000", "changed")
    assert status_of(ua.register()[0]) == 200
    cli(reg_server, "delete", "--number", "6505552000")
    time.sleep(1.5)
    ua = UA(reg_server.sip_port, "6505552000", "changed")
    assert status_of(ua.register()[0]) == 403


def test_bindings_survive_kill_9(tmp_path):
    s = CwAio(5130)
    os.makedirs(s.data_dir, exist_ok=True)
    csv = tmp_path / "u.csv"
    with open(csv, "w") as f:
        for i in range(N_USERS):
            f.write(f"sip:{BASE + i}@example.com,{BASE + i}@example.com,example.com,pw{BASE + i}\n")
    cli(s, "import", str(csv))
    s.start()
    r = sipp_register(s, "u1", N_USERS, 400, 5405)
    assert r.returncode == 0, r.stdout.decode()[-1500:]
    s.stop(signal.SIGKILL)
    s.start()
    # Every binding is back: an authenticated REGISTER without Contact is a query (RFC 3261 §10.2.3).
    missing = []
    for i in range(0, N_USERS, 1):
        ua = UA(s.sip_port, str(BASE + i), f"pw{BASE + i}")
        final, _ = ua.register(contact="")
        ua.close()
        if status_of(final) != 200 or not headers_all(final, "Contact"):
            missing.append(BASE + i)
    assert not missing, f"{len(missing)} bindings lost, e.g. {missing[:5]}"
    assert s.stop() == 0


def http(server, method, path, body=None):
    import urllib.error
    import urllib.request
    req = urllib.request.Request(f"http://127.0.0.1:{server.sip_port + 3001}{path}", method=method,
                                 data=body.encode() if body else None)
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def test_homestead_rest_interface(reg_server):
    import json
    from urllib.parse import quote
    impi, impu = quote("6505554030@example.com", safe=""), quote("sip:6505554030@example.com", safe="")
    status, body = http(reg_server, "GET", f"/impi/{impi}/av?impu={impu}")
    assert status == 200
    digest = json.loads(body)["digest"]
    assert digest["realm"] == "example.com" and digest["qop"] == "auth" and len(digest["ha1"]) == 32
    import hashlib
    assert digest["ha1"] == hashlib.md5(b"6505554030@example.com:example.com:pw6505554030").hexdigest()
    status, body = http(reg_server, "GET", f"/impi/{impi}/digest?public_id={impu}")
    assert status == 200 and json.loads(body)["digest_ha1"] == digest["ha1"]
    status, body = http(reg_server, "GET", f"/impu/{impu}/reg-data")
    assert status == 200 and "<RegistrationState>NOT_REGISTERED</RegistrationState>" in body
    assert "<ServerName>sip:mmtel.example.com</ServerName>" in body  # the default iFC
    ua = UA(reg_server.sip_port, "6505554030", "pw6505554030")
    assert status_of(ua.register()[0]) == 200
    status, body = http(reg_server, "GET", f"/impu/{impu}/reg-data")
    assert "<RegistrationState>REGISTERED</RegistrationState>" in body
    status, body = http(reg_server, "PUT", f"/impu/{impu}/reg-data", '{"reqtype": "dereg-admin"}')
    assert status == 200 and "NOT_REGISTERED" in body
    # Bad input: JSON errors, never a crash.
    status, body = http(reg_server, "PUT", f"/impu/{impu}/reg-data", '{"reqtype": "bogus"}')
    assert status == 400 and json.loads(body)["error"] is True
    status, body = http(reg_server, "GET", "/impu/sip%3Anobody%40example.com/reg-data")
    assert status == 404 and json.loads(body)["status"] == 404
    status, _ = http(reg_server, "GET", f"/impi/{quote('nobody@example.com', safe='')}/av")
    assert status == 404


def test_prometheus_metrics_and_health(reg_server):
    import json
    ua = UA(reg_server.sip_port, "6505554040", "pw6505554040")
    assert status_of(ua.register()[0]) == 200
    bad = UA(reg_server.sip_port, "6505554041", "wrong")
    assert status_of(bad.register()[0]) == 403
    status, text = http(reg_server, "GET", "/metrics")
    assert status == 200
    values = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            values[name] = float(value)
    assert values['sip_requests_received_total{method="REGISTER"}'] >= 4
    assert values['sip_auth_total{result="success"}'] >= 1 and values['sip_auth_total{result="failure"}'] >= 1
    assert values['sip_responses_sent_total{code="401"}'] >= 2
    assert values["sip_bindings_current"] >= 1
    assert values["sip_register_duration_seconds_count"] >= 4
    assert 1e6 < values["process_resident_memory_bytes"] < 4e9
    # Once every listener was up, the pages only start-up used went back to the kernel.
    m = re.search(r"start-up over: resident ([0-9.]+) MB -> ([0-9.]+) MB \((\d+) file mappings paged out\)",
                  reg_server.read_log())
    assert m, reg_server.read_log()[-2000:]
    assert float(m.group(2)) < float(m.group(1)) and int(m.group(3)) > 0, m.group(0)
    status, body = http(reg_server, "GET", "/health")
    assert status == 200 and json.loads(body)["status"] == "ok"
