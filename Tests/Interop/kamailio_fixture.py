"""A throw-away Kamailio 5.6 registrar/proxy (the reference peer in shared/peers/kamailio) for
validating the softphone drivers.

The shared config is copied to a temp dir and adapted there (shared/ is never modified):
  - registrar max_expires 3600 -> MAX_EXPIRES (300, like cw-aio) so a 600 s request is capped;
  - optional TLS listener on sip_port+1 (tls.so from kamailio-tls-modules, self-signed cert).
Subscribers 6505550000.. in domain example.com (password `secret`) are provisioned with the
shared provision.sh (SQLite, ha1 column). Kamailio runs in its own session and is stopped by
pid; location bindings can be flushed between tests with flush_location().
"""
from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "../.."))
KAMAILIO_KIT = os.environ.get("CW_AIO_KAMAILIO_KIT",
                              os.path.abspath(os.path.join(ROOT, "..", "shared", "peers", "kamailio")))
TLS_MODULE_GLOB = "/usr/lib/*/kamailio/modules/tls.so"

DOMAIN = "example.com"
PASSWORD = "secret"
FIRST_USER = 6505550000


def kamailio_missing() -> str | None:
    """Why Kamailio cannot run here (None when it can)."""
    for b in ("kamailio", "kamcmd", "sqlite3"):
        if shutil.which(b) is None:
            return f"{b} not installed (install-clients.sh --kamailio)"
    if not os.path.exists(os.path.join(KAMAILIO_KIT, "kamailio.cfg")):
        return f"no Kamailio kit at {KAMAILIO_KIT}"
    if not os.path.exists("/usr/share/kamailio/db_sqlite/standard-create.sql"):
        return "kamailio-sqlite-modules not installed"
    return None


def tls_available() -> bool:
    import glob
    return bool(glob.glob(TLS_MODULE_GLOB)) and shutil.which("openssl") is not None


def make_cert(directory: str, cn: str = "127.0.0.1") -> tuple[str, str]:
    """A self-signed certificate and key (PEM files) in `directory`."""
    key, crt = os.path.join(directory, "tls.key"), os.path.join(directory, "tls.crt")
    if not os.path.exists(crt):
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                        "-subj", f"/CN={cn}", "-keyout", key, "-out", crt],
                       check=True, capture_output=True, timeout=60)
    return crt, key


class Kamailio:
    def __init__(self, sip_port: int = 5170, users: int = 10, max_expires: int = 300, tls: bool = False,
                 children: int = 2):
        self.sip_port = sip_port
        self.tls_port = sip_port + 1 if tls else None
        self.users = [str(FIRST_USER + i) for i in range(users)]
        self.max_expires = max_expires
        self.children = children
        self.base = tempfile.mkdtemp(prefix="kamailio-softphones-")
        self.db = os.path.join(self.base, "kamailio.sqlite")
        self.ctl = f"unix:{self.base}/kamailio_ctl"
        self.cfg = os.path.join(self.base, "kamailio.cfg")
        self.log_path = os.path.join(self.base, "kamailio.log")
        self.proc: subprocess.Popen | None = None
        self._log = None

    # ---- setup
    def _write_config(self) -> None:
        cfg = open(os.path.join(KAMAILIO_KIT, "kamailio.cfg")).read()
        cfg, n = re.subn(r'modparam\("registrar", "max_expires", \d+\)',
                         f'modparam("registrar", "max_expires", {self.max_expires})', cfg)
        assert n == 1, "max_expires modparam not found in the shared kamailio.cfg"
        if self.tls_port:
            crt, key = make_cert(self.base)
            tls_cfg = os.path.join(self.base, "tls.cfg")
            with open(tls_cfg, "w") as f:
                f.write(f"[server:default]\nmethod = TLSv1.2+\nverify_certificate = no\n"
                        f"require_certificate = no\nprivate_key = {key}\ncertificate = {crt}\n\n"
                        f"[client:default]\nmethod = TLSv1.2+\nverify_certificate = no\n"
                        f"require_certificate = no\n")
            cfg = cfg.replace("enable_tls=no", f"enable_tls=yes\nlisten=tls:127.0.0.1:{self.tls_port}")
            cfg = cfg.replace('loadmodule "db_sqlite.so"',
                              f'loadmodule "tls.so"\nmodparam("tls", "config", "{tls_cfg}")\n'
                              'loadmodule "db_sqlite.so"')
        with open(self.cfg, "w") as f:
            f.write(cfg)

    def _provision(self) -> None:
        r = subprocess.run(["bash", os.path.join(KAMAILIO_KIT, "provision.sh"), self.db, str(len(self.users)),
                            PASSWORD], capture_output=True, timeout=120)
        if r.returncode != 0:
            raise RuntimeError("provision.sh failed: " + r.stdout.decode() + r.stderr.decode())

    def start(self, timeout: float = 20) -> "Kamailio":
        self._write_config()
        self._provision()
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            ["kamailio", "-DD", "-E", "-f", self.cfg, "-m", "64", "-M", "8",
             "-A", f"SIPPORT={self.sip_port}", "-A", f"NCHILD={self.children}",
             "-A", f'DBURL="sqlite://{self.db}"', "-A", f'CTLSOCK="{self.ctl}"'],
            stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"kamailio exited {self.proc.returncode}:\n{self.read_log()[-4000:]}")
            if self.rpc("core.uptime", timeout=2) is not None:
                return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError("kamailio did not come up:\n" + self.read_log()[-4000:])

    # ---- control
    def rpc(self, *args: str, timeout: float = 5) -> str | None:
        try:
            r = subprocess.run(["kamcmd", "-s", self.ctl, *args], capture_output=True, timeout=timeout)
        except (subprocess.TimeoutExpired, OSError):
            return None
        if r.returncode != 0:
            return None
        return r.stdout.decode(errors="replace")

    def registered_aors(self) -> list[str]:
        out = self.rpc("ul.dump", "brief") or ""
        return re.findall(r"AoR:\s*(\S+)", out)

    def bindings(self, user: str) -> list[str]:
        """Contact addresses currently registered for a user (usrloc keys on the user part)."""
        out = self.rpc("ul.lookup", "location", f"s:{user}") or ""
        return re.findall(r"Address:\s*(\S+)", out)

    def flush_location(self) -> None:
        """Removes every binding (stale contacts of a previous test would be forked to)."""
        for aor in self.registered_aors():
            self.rpc("ul.rm", "location", f"s:{aor}")

    def read_log(self) -> str:
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def stop(self) -> None:
        p = self.proc
        if p is not None:
            for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
                try:
                    os.killpg(p.pid, sig)     # the session this fixture started
                except (ProcessLookupError, PermissionError):
                    pass
                try:
                    p.wait(timeout=wait)
                    break
                except subprocess.TimeoutExpired:
                    continue
            try:
                os.killpg(p.pid, signal.SIGKILL)     # leftover children, if any
            except (ProcessLookupError, PermissionError):
                pass
            self.proc = None
        if self._log:
            self._log.close()
            self._log = None

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.base, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.cleanup()
