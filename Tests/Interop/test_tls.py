"""Issue 5 security: the TLS listener's protocol versions and cipher suites. TLS 1.3 (BoringSSL's fixed
AEAD suites) and TLS 1.2 with ephemeral ECDH + AEAD only (AES-GCM, ChaCha20-Poly1305); TLS 1.0/1.1,
CBC suites, static-RSA key exchange, 3DES/RC4/NULL/export are refused. Checked with the generated P-256
ECDSA certificate and with a configured RSA certificate (where RSA key exchange would be possible)."""
import os
import socket
import ssl
import subprocess
import warnings

import pytest

from conftest import CwAio

ECDSA_SUITES = {"ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-ECDSA-CHACHA20-POLY1305"}
RSA_SUITES = {"ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-RSA-AES256-GCM-SHA384", "ECDHE-RSA-CHACHA20-POLY1305"}


@pytest.fixture(scope="module")
def ecdsa_server():
    s = CwAio(5310).start()
    yield s
    assert s.stop() == 0, s.read_log()[-3000:]


@pytest.fixture(scope="module")
def rsa_server(tmp_path_factory):
    d = tmp_path_factory.mktemp("rsa")
    cert, key = str(d / "cert.pem"), str(d / "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "2", "-subj", "/CN=127.0.0.1"], check=True, capture_output=True, timeout=60)
    s = CwAio(5320, extra=("--set", f"tls_certificate={cert}", "--set", f"tls_private_key={key}")).start()
    yield s
    assert s.stop() == 0, s.read_log()[-3000:]


def context(minimum, maximum, ciphers=None):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    # Security level 0 lets this client offer what the server is supposed to refuse.
    ctx.set_ciphers((ciphers or "ALL") + ":@SECLEVEL=0")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # TLS 1.0/1.1 on purpose
        ctx.minimum_version = minimum
        ctx.maximum_version = maximum
    return ctx


def handshake(port, ctx):
    """(protocol version, cipher name) or the ssl.SSLError of a refused handshake."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        try:
            with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
                return tls.version(), tls.cipher()[0]
        except ssl.SSLError as e:
            return e


def tls12_ciphers_openssl_knows():
    ctx = context(ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_2, "ALL:eNULL")
    return sorted({c["name"] for c in ctx.get_ciphers() if c["protocol"] in ("TLSv1.2", "TLSv1.0", "SSLv3")
                   and "PSK" not in c["name"] and "SRP" not in c["name"]})


def test_tls13_succeeds(ecdsa_server):
    r = handshake(ecdsa_server.tls_port, context(ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.TLSv1_3))
    assert not isinstance(r, Exception), r
    assert r[0] == "TLSv1.3" and r[1] in ("TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384",
                                          "TLS_CHACHA20_POLY1305_SHA256"), r


@pytest.mark.parametrize("cipher", sorted(ECDSA_SUITES))
def test_tls12_ecdhe_ecdsa_aead_succeeds(ecdsa_server, cipher):
    r = handshake(ecdsa_server.tls_port, context(ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_2, cipher))
    assert r == ("TLSv1.2", cipher), r


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1])
def test_tls10_and_tls11_refused(ecdsa_server, version):
    r = handshake(ecdsa_server.tls_port, context(version, version))
    assert isinstance(r, ssl.SSLError), r
    # The server answered the old ClientHello with a protocol_version alert.
    assert "PROTOCOL_VERSION" in str(r).upper() or "UNSUPPORTED_PROTOCOL" in str(r).upper(), r


@pytest.mark.parametrize("flag", ["-tls1", "-tls1_1"])
def test_openssl_s_client_old_versions_refused(ecdsa_server, flag):
    r = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{ecdsa_server.tls_port}", flag,
                        "-cipher", "DEFAULT:@SECLEVEL=0"], input=b"", capture_output=True, timeout=30)
    out = (r.stdout + r.stderr).decode(errors="replace")
    assert r.returncode != 0 and "alert protocol version" in out, out


@pytest.mark.parametrize("server,ciphers", [
    ("ecdsa_server", "ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA:ECDHE-ECDSA-AES128-SHA256:ECDHE-ECDSA-AES256-SHA384"),
    ("rsa_server", "ECDHE-RSA-AES128-SHA:ECDHE-RSA-AES256-SHA:ECDHE-RSA-AES128-SHA256:ECDHE-RSA-AES256-SHA384"),
    ("rsa_server", "AES128-GCM-SHA256:AES256-GCM-SHA384:AES128-SHA:AES256-SHA:AES128-SHA256"),
    ("ecdsa_server", "ECDHE-ECDSA-NULL-SHA:ECDHE-RSA-NULL-SHA:NULL-SHA256:NULL-SHA:NULL-MD5"),
    ("rsa_server", "ECDHE-ECDSA-NULL-SHA:ECDHE-RSA-NULL-SHA:NULL-SHA256:NULL-SHA:NULL-MD5"),
    ("rsa_server", "DES-CBC3-SHA:ECDHE-RSA-DES-CBC3-SHA:RC4-SHA:ECDHE-RSA-RC4-SHA:EXP-RC4-MD5"),
], ids=["ecdsa-cbc-only", "rsa-cbc-only", "rsa-kx-only", "ecdsa-null", "rsa-null", "3des-rc4-export"])
def test_tls12_cbc_rsa_kx_null_3des_refused(request, server, ciphers):
    s = request.getfixturevalue(server)
    try:
        ctx = context(ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_2, ciphers)
    except ssl.SSLError:
        pytest.skip(f"this OpenSSL cannot offer {ciphers} (the exhaustive test covers what it can)")
    r = handshake(s.tls_port, ctx)
    assert isinstance(r, ssl.SSLError), r
    assert "HANDSHAKE_FAILURE" in str(r).upper() or "NO_SHARED_CIPHER" in str(r).upper(), r


@pytest.mark.parametrize("server,expected", [("ecdsa_server", ECDSA_SUITES), ("rsa_server", RSA_SUITES)])
def test_tls12_accepts_exactly_ecdhe_aead(request, server, expected):
    """Every TLS 1.2 suite this OpenSSL can offer, one at a time: only ECDHE + AEAD is accepted."""
    s = request.getfixturevalue(server)
    accepted = set()
    for cipher in tls12_ciphers_openssl_knows():
        try:
            ctx = context(ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_2, cipher)
        except ssl.SSLError:
            continue  # not available in this OpenSSL build
        r = handshake(s.tls_port, ctx)
        if not isinstance(r, Exception):
            assert r[0] == "TLSv1.2"
            accepted.add(r[1])
    assert accepted == expected


def test_rsa_certificate_tls13(rsa_server):
    r = handshake(rsa_server.tls_port, context(ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.TLSv1_3))
    assert not isinstance(r, Exception) and r[0] == "TLSv1.3", r
