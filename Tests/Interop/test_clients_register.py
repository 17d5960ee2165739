"""Issue 3 with real softphones: baresip, linphonec and pjsua2 register to cw-aio through the
outbound proxy 127.0.0.1 with <number>@example.com, are refused with a wrong password, and a
client asking 3600 s is granted 300."""
import os
import subprocess

import pytest

from conftest import BIN, CwAio
from softphones import CLIENTS, client_available

KINDS = ["baresip", "linphonec", "pjsua2"]
USERS = {k: (f"65055530{i:02d}", f"secret{i}") for i, k in enumerate(KINDS)}


@pytest.fixture(scope="module")
def client_server():
    s = CwAio(5150)
    os.makedirs(s.data_dir, exist_ok=True)
    for number, password in USERS.values():
        r = subprocess.run([BIN, "subscriber", "add", "--number", number, "--password", password,
                            "--set", f"data_dir={s.data_dir}"], capture_output=True, timeout=60)
        assert r.returncode == 0, r.stderr.decode()
    s.start()
    yield s
    assert s.stop() == 0


@pytest.mark.parametrize("transport", ["udp", "tcp"])
@pytest.mark.parametrize("kind", KINDS)
def test_client_registers_and_is_capped(client_server, tmp_path, kind, transport):
    ok, why = client_available(kind)
    if not ok:
        pytest.fail(f"{kind} missing: {why}")
    number, password = USERS[kind]
    port = 5600 + 20 * KINDS.index(kind) + (10 if transport == "tcp" else 0)
    phone = CLIENTS[kind](str(tmp_path / kind), number, password, "example.com", client_server.sip_port, port,
                          transport=transport, expires=3600)
    try:
        phone.start()
        res = phone.register(timeout=20)
        assert res.ok, f"{kind}: {res}\n{phone.log()[-3000:]}"
        if res.expires is not None:
            assert res.expires <= 300, res
        assert phone.unregister()
    finally:
        phone.stop()


@pytest.mark.parametrize("kind", KINDS)
def test_client_wrong_password_fails(client_server, tmp_path, kind):
    ok, why = client_available(kind)
    if not ok:
        pytest.fail(f"{kind} missing: {why}")
    number, _ = USERS[kind]
    phone = CLIENTS[kind](str(tmp_path / kind), number, "definitely-wrong", "example.com", client_server.sip_port,
                          5700 + 10 * KINDS.index(kind))
    try:
        phone.start()
        res = phone.register(timeout=20)
        assert not res.ok, f"{kind} registered with a wrong password: {res}"
        assert res.status in (None, 401, 403), res
    finally:
        phone.stop()
