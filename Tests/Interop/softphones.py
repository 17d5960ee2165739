"""Real softphone drivers for the interop suite: baresip, linphonec and pjsua2.

Each driver starts a real client process bound to 127.0.0.1 with an explicit outbound proxy
sip:127.0.0.1:<proxy_port>;transport=<t> (proxy_port is the proxy's port *for that transport*,
e.g. 5061 for TLS); domains only appear in identities and are never resolved. Control channels:

    Baresip    baresip 1.0.0: `ctrl_tcp` module (netstring JSON commands + events) and the SIP
               trace (-s) on stdout
    Linphonec  linphonec 5.1 (liblinphone): commands on its stdin, its stdout (-d 6 logs) parsed
    Pjsua2     PJSIP 2.15 (PyPI pjsua2-python) in an agent subprocess running this very file
               (`python3 softphones.py --pjsua2-agent CONFIG_JSON`), JSON lines over stdin/stdout

API (class SoftPhone): start, register -> RegResult(ok, status, expires, detail), unregister,
call, wait_call_state("ringing"|"established"|"closed"), hangup, send_message, wait_message,
received_messages, received_audio_wav, log, stop; module level tone_frequency(wav).
Every wait is bounded. stop() unregisters (if registered), asks the client to quit, then kills
the process group it started (by pid); an atexit hook stops phones a test forgot. Each driver
writes only under its workdir (the caller removes it). All clients auto-answer incoming calls
(180 then 200) and send a 440 Hz tone as their audio.

What each client supports (validated against Kamailio 5.6, test_softphones_kamailio.py)
------------------------------------------------------------------------------------
                      baresip                  linphonec                  pjsua2
  granted expiry      200 OK in the SIP trace  200 OK in liblinphone log  onRegState expiration
  wrong password      REGISTER_FAIL + status   RegistrationFailed+status  onRegState code
  auth_user (IMPI)    auth_user= param         [auth_info] userid         AuthCredInfo username
  UDP / TCP / TLS     yes / yes / yes          yes / yes / yes            yes / yes / yes
  audio sent          ausine 440 Hz            440 Hz WAV (`play`)        440 Hz WAV player
  received audio WAV  sndfile module, 8 kHz    `record` file, 16 kHz      AudioMediaRecorder, 16 kHz
  MESSAGE send/recv   yes / yes (from trace)   yes / yes                  yes / yes
TLS: no client verifies the server certificate. baresip also listens TLS on local_port+1 with a
self-signed certificate (made with openssl), since a proxy may connect back to its Contact.
The granted expiry is the ;expires of *our* Contact in the 2xx (matched by +sip.instance, then
by the URI we sent, then by host:port), else the Expires header.

Quirks found while validating (Debian 12 packages)
--------------------------------------------------
baresip 1.0.0
  - There is no "register" command: the UA created at start has regint=0 (calls and MESSAGE work
    unregistered); register() = `uadel` + `uanew <account>;regint=<expires>`; unregister() =
    `uadel` (the UA destructor sends REGISTER Expires 0) + `uanew` with regint=0 again.
  - `/message` sends only to the contact module's *current contact*: send_message() rewrites
    the contacts file, then `rmmod contact` + `insmod contact` (module_init re-reads it).
  - A received MESSAGE is answered 200 but neither printed nor sent as a ctrl_tcp event: it is
    taken from the SIP trace. With answermode=auto there is no CALL_INCOMING event either (the
    callee goes straight to CALL_ESTABLISHED); a remote BYE closes with "Connection reset by peer".
  - sip_listen binds UDP+TCP on the port and TLS on port+1: keep two baresips >= 2 ports apart.
    The ctrl_tcp port is a free ephemeral port chosen at start.
  - ausine needs 48 kHz stereo (ausrc_srate 48000, ausrc_channels 2); audio_player alsa,null.
  - sndfile writes snd/dump-<timestamp>-dec.wav (received) and -enc.wav (sent) per call, 1 s
    resolution in the name; the WAV header is complete only once the call is closed
    (received_audio_wav waits for it).
  - A failed registration is retried by baresip in the background until the UA is deleted.
linphonec 5.1
  - HOME is a per-instance dir with .local/share/linphone created; `soundcard use files` before
    calls; reg_proxy/reg_route hold the IP (a domain there triggers DNS).
  - `[sip] auto_net_state_mon=0` is required: otherwise liblinphone declares the network DOWN a
    few seconds after start (no default route in the namespace) and drops the registration.
  - Kamailio grants GRUUs and liblinphone then uses its pub-gruu (sip:user@domain;gr=...) as
    dialog Contact, which a proxy without GRUU routing cannot reach (in-dialog requests fail):
    the rc sets `[sip] supported=replaces` (no gruu, no outbound).
  - sip_tcp_port=-1 means a *random* port, 0 disables a transport. Over TCP/TLS the Contact
    carries the connection's ephemeral local port, not the listening port.
  - The rc is rewritten by linphonec on exit (reg_sendregister=1 after `register`, passwd turned
    into ha1...): the driver writes a fresh rc at every start, with reg_sendregister=0.
    `register`/`unregister` without arguments enable/disable the default proxy; after a *failed*
    registration `register` sends nothing, so register() restarts the process first.
  - `chat <uri> "text"` sends the quotes literally: the driver sends `chat <uri> text`.
  - The prompt has no newline; the terminal shows few status lines, so the driver parses
    liblinphone's log ("Account ... moving from state [..] to [LinphoneRegistrationOk]",
    "Register refresher [401]", "CallSession ... moving from state X to Y", "Message received
    from <uri>: text"). Only one `linphonecsh` daemon per uid, hence stdin pipes.
pjsua2 2.15
  - threadCnt=0 + mainThreadOnly=True, polled with libHandleEvents(); setNullDev(); the agent
    drops every Call, player and recorder before libDestroy() (else it aborts). One agent per UA.
  - The REGISTER goes to registrarUri sip:<domain> via the proxy route (sip:127.0.0.1:<port>;lr).
  - The received WAV is reported once the call is over and its recorder destroyed (that
    completes the header); received_audio_wav waits for it.
Kamailio reference (kamailio_fixture.py)
  - Only REGISTER is challenged (INVITE/MESSAGE pass unauthenticated); usrloc keys on the user
    part; the test copy lowers max_expires to 300 (cw-aio's cap) so a 600 s request shows the
    granted value; stale bindings of a stopped client would be forked to, so the fixture flushes
    the location table between tests.
"""
from __future__ import annotations

import atexit
import glob
import json
import math
import os
import re
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import wave
import weakref
from dataclasses import dataclass
from typing import Callable, Optional

__all__ = ["RegResult", "SoftPhone", "Baresip", "Linphonec", "Pjsua2", "CLIENTS", "tone_frequency",
           "write_tone_wav", "client_available"]

TRANSPORTS = ("udp", "tcp", "tls")
CALL_STATES = ("ringing", "established", "closed")


@dataclass
class RegResult:
    ok: bool
    status: Optional[int]
    expires: Optional[int]
    detail: str


# ----------------------------------------------------------------------------------------------
# helpers

def free_port(kind: int = socket.SOCK_STREAM) -> int:
    """An ephemeral port on 127.0.0.1 that is free right now."""
    s = socket.socket(socket.AF_INET, kind)
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


def rtp_range(local_port: int, width: int = 20) -> tuple[int, int]:
    """A per-instance RTP port range derived from the SIP port, so that clients on different SIP
    ports (< 10000) never share RTP ports, nor use the kernel's ephemeral range (32768+)."""
    base = 10000 + (local_port % 1100) * width      # 10000..31999: below the ephemeral ports
    return base, base + width - 1


def write_tone_wav(path: str, freq: float = 440.0, seconds: float = 30.0, rate: int = 8000,
                   amplitude: float = 0.5) -> str:
    """A mono 16-bit PCM sine WAV (standard library only)."""
    n = int(seconds * rate)
    period = rate / freq
    frames = bytearray()
    amp = int(32767 * amplitude)
    pack = struct.Struct("<h").pack
    for i in range(n):
        frames += pack(int(amp * math.sin(2 * math.pi * i / period)))
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(bytes(frames))
    return path


def wav_complete(path: str) -> bool:
    """True when the RIFF size in a WAV header was filled in for this file size (writers update
    it when they close the file; mediastreamer's is off by the 44-byte header, hence the slack)."""
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            head = f.read(12)
    except OSError:
        return False
    if len(head) < 12 or head[:4] != b"RIFF" or size <= 44:
        return False
    riff = struct.unpack("<I", head[4:8])[0]
    return riff not in (0, 0xFFFFFFFF) and abs(riff - (size - 8)) <= 64


def wait_wav(path_fn: Callable[[], Optional[str]], timeout: float = 5.0) -> Optional[str]:
    """Polls path_fn() until it names a complete WAV (bounded); returns the last path seen."""
    deadline = time.monotonic() + timeout
    path = None
    while True:
        path = path_fn()
        if path and wav_complete(path):
            return path
        if time.monotonic() >= deadline:
            return path
        time.sleep(0.1)


def tone_frequency(wav_path: str, skip: float = 0.3) -> Optional[float]:
    """Dominant frequency of a WAV (sox `stat` rough frequency on a mono mix, the first `skip`
    seconds dropped); None when the file is missing, unreadable or silent."""
    if not wav_path or not os.path.exists(wav_path) or shutil.which("sox") is None:
        return None

    def stat(extra):
        try:
            r = subprocess.run(["sox", wav_path, "-n", "remix", "-", *extra, "stat"],
                               capture_output=True, timeout=30)
        except (subprocess.TimeoutExpired, OSError):
            return None
        out = r.stderr.decode(errors="replace")
        f = re.search(r"Rough\s+frequency:\s+(-?\d+)", out)
        rms = re.search(r"RMS\s+amplitude:\s+([\d.]+)", out)
        if r.returncode != 0 or not f or not rms:
            return None
        return float(f.group(1)), float(rms.group(1))

    res = stat(["trim", str(skip)]) if skip else None
    if res is None:
        res = stat([])
    if res is None:
        return None
    freq, rms = res
    if rms < 0.003 or freq <= 0:
        return None
    return freq


def sip_messages(text: str) -> list[str]:
    """SIP messages found in a client's trace/log (start line .. blank line, with body lines up to
    Content-Length when the body follows directly)."""
    text = text.replace("\r\n", "\n").replace("\x1b[;m", "").replace("\x1b[36;1m", "")
    out = []
    start_re = re.compile(r"(?m)^(?:[^\n]*?(?=SIP/2\.0 \d{3} )|(?=[A-Z]+ (?:sips?|tel):\S+ SIP/2\.0\n))"
                          r"((?:SIP/2\.0 \d{3} [^\n]*|[A-Z]+ (?:sips?|tel):\S+ SIP/2\.0)\n)")
    for m in start_re.finditer(text):
        begin = m.start(1)
        end = text.find("\n\n", begin)
        if end < 0:
            head = text[begin:]
            out.append(head)
            continue
        head = text[begin:end]
        cl = re.search(r"(?im)^(?:content-length|l)\s*:\s*(\d+)", head)
        body = ""
        if cl and int(cl.group(1)) > 0:
            body = text[end + 2:end + 2 + int(cl.group(1))]
        out.append(head + "\n\n" + body)
    return out


def sip_header(msg: str, name: str, compact: str | None = None) -> list[str]:
    head = msg.split("\n\n", 1)[0]
    names = {name.lower()} | ({compact.lower()} if compact else set())
    vals = []
    for line in head.split("\n")[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            if k.strip().lower() in names:
                vals.append(v.strip())
    return vals


def sip_status(msg: str) -> Optional[int]:
    m = re.match(r"SIP/2\.0 (\d{3})", msg)
    return int(m.group(1)) if m else None


def sip_cseq_method(msg: str) -> str:
    v = sip_header(msg, "CSeq")
    return v[0].split()[-1].upper() if v else ""


def split_contacts(values: list[str]) -> list[str]:
    """Splits Contact header values on commas outside <> and quotes."""
    out = []
    for v in values:
        depth, quote, cur = 0, False, ""
        for ch in v:
            if ch == '"':
                quote = not quote
            elif not quote and ch == "<":
                depth += 1
            elif not quote and ch == ">":
                depth -= 1
            if ch == "," and depth == 0 and not quote:
                out.append(cur.strip())
                cur = ""
            else:
                cur += ch
        if cur.strip():
            out.append(cur.strip())
    return out


def _contact_parts(c: str) -> tuple[str, str]:
    """(uri, header params) of one Contact value."""
    if "<" in c:
        return c[c.find("<") + 1:c.find(">")], c[c.find(">") + 1:]
    uri = c.split(";")[0]
    return uri, c[len(uri):]


def _uri_key(uri: str) -> str:
    """user@host:port of a SIP URI (scheme and parameters dropped), for binding comparison."""
    u = re.sub(r"(?i)^sips?:", "", uri).split(";")[0].split("?")[0]
    return u.lower()


def _instance(params: str) -> Optional[str]:
    m = re.search(r'(?i)\+sip\.instance\s*=\s*"?<?([^">;]+)', params)
    return m.group(1).lower() if m else None


def granted_expiry(response: str, local_hostport: str, request: str | None = None) -> Optional[int]:
    """Expiry granted by a REGISTER 2xx for our binding: the ;expires of the Contact that is ours
    (same +sip.instance, else same URI as in our REGISTER, else holding our host:port: the largest
    if several match), else the Expires header."""
    contacts = [_contact_parts(c) for c in split_contacts(sip_header(response, "Contact", "m"))]
    own_uris, own_inst = set(), set()
    if request:
        for c in split_contacts(sip_header(request, "Contact", "m")):
            uri, params = _contact_parts(c)
            own_uris.add(_uri_key(uri))
            inst = _instance(params)
            if inst:
                own_inst.add(inst)

    def pick(match) -> Optional[int]:
        best = None
        for uri, params in contacts:
            if not match(uri, params):
                continue
            m = re.search(r"(?i);\s*expires\s*=\s*(\d+)", params)
            if m:
                best = max(best or 0, int(m.group(1)))
        return best

    for match in ((lambda u, p: own_inst and _instance(p) in own_inst and _uri_key(u) in own_uris),
                  (lambda u, p: own_inst and _instance(p) in own_inst),
                  (lambda u, p: _uri_key(u) in own_uris),
                  (lambda u, p: local_hostport in u)):
        v = pick(match)
        if v is not None:
            return v
    exp = sip_header(response, "Expires")
    if exp and exp[0].strip().isdigit():
        return int(exp[0].strip())
    if len(contacts) == 1:
        return pick(lambda u, p: True)
    return None


_LIVE: "weakref.WeakSet[SoftPhone]" = weakref.WeakSet()


@atexit.register
def _stop_all():
    for p in list(_LIVE):
        try:
            p.stop()
        except Exception:
            pass


def client_available(kind: str) -> tuple[bool, str]:
    """Whether a client kind can run here, with the reason when it cannot."""
    if kind == "baresip":
        return (shutil.which("baresip") is not None, "baresip not installed (install-clients.sh)")
    if kind == "linphonec":
        return (shutil.which("linphonec") is not None, "linphonec not installed (install-clients.sh)")
    if kind == "pjsua2":
        try:
            r = subprocess.run([sys.executable, "-c", "import pjsua2"], capture_output=True, timeout=30)
            return (r.returncode == 0, "python module pjsua2 missing (pip install pjsua2-python)")
        except (OSError, subprocess.TimeoutExpired) as e:
            return (False, f"pjsua2 check failed: {e}")
    return (False, f"unknown client {kind}")


# ----------------------------------------------------------------------------------------------
# base class

class SoftPhone:
    """A real SIP client. Subclasses implement _launch and the _do_* actions."""

    kind = "softphone"

    def __init__(self, workdir: str, user: str, password: str, domain: str, proxy_port: int,
                 local_port: int, transport: str = "udp", auth_user: str | None = None,
                 expires: int = 300):
        transport = transport.lower()
        if transport not in TRANSPORTS:
            raise ValueError(f"transport must be one of {TRANSPORTS}")
        self.workdir = os.path.abspath(workdir)
        os.makedirs(self.workdir, exist_ok=True)
        self.user, self.password, self.domain = user, password, domain
        self.proxy_port, self.local_port = int(proxy_port), int(local_port)
        self.transport, self.auth_user, self.expires = transport, auth_user, int(expires)
        self.proc: Optional[subprocess.Popen] = None
        self._cv = threading.Condition()
        self._lines: list[str] = []
        self._log_file = None
        self._calls: list[dict] = []       # {"states": set(), "consumed": bool, "dir": str}
        self._messages: list[tuple[str, str]] = []
        self._threads: list[threading.Thread] = []
        self._stopping = False
        self.registered = False            # True after a successful register(), until unregister()
        _LIVE.add(self)

    # ---- identity helpers
    @property
    def aor(self) -> str:
        return f"sip:{self.user}@{self.domain}"

    @property
    def local_hostport(self) -> str:
        return f"127.0.0.1:{self.sip_listen_port}"

    @property
    def sip_listen_port(self) -> int:
        return self.local_port

    def proxy_uri(self, lr: bool = False) -> str:
        return f"sip:127.0.0.1:{self.proxy_port};transport={self.transport}" + (";lr" if lr else "")

    def target_uri(self, target: str) -> str:
        t = target.strip()
        if re.match(r"(?i)^(sips?|tel):", t):
            return t
        if "@" in t:
            return "sip:" + t
        return f"sip:{t}@{self.domain}"

    def __repr__(self):
        return f"<{type(self).__name__} {self.user}@{self.domain} {self.transport}:{self.local_port}>"

    # ---- process plumbing
    def _spawn(self, argv: list[str], env: dict | None = None, stdin=subprocess.PIPE) -> None:
        self._log_file = open(os.path.join(self.workdir, f"{self.kind}.out"), "ab", buffering=0)
        self.proc = subprocess.Popen(argv, cwd=self.workdir, env=env, stdin=stdin,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     start_new_session=True, bufsize=0)
        t = threading.Thread(target=self._reader, args=(self.proc.stdout,), daemon=True,
                             name=f"{self.kind}-reader")
        t.start()
        self._threads.append(t)

    def _reader(self, stream) -> None:
        buf = b""
        while True:
            try:
                chunk = stream.read1(65536) if hasattr(stream, "read1") else os.read(stream.fileno(), 65536)
            except (OSError, ValueError):
                break
            if not chunk:
                break
            if self._log_file:
                try:
                    self._log_file.write(chunk)
                except (OSError, ValueError):
                    pass
            buf += chunk
            *lines, buf = buf.split(b"\n")
            for raw in lines:
                self._feed(raw.decode(errors="replace").rstrip("\r"))
        if buf:
            self._feed(buf.decode(errors="replace"))
        with self._cv:
            self._cv.notify_all()

    def _feed(self, line: str) -> None:
        with self._cv:
            self._lines.append(line)
            try:
                self._on_line(line)
            finally:
                self._cv.notify_all()

    def _on_line(self, line: str) -> None:     # called with self._cv held
        pass

    def _wait(self, pred: Callable[[], object], timeout: float):
        """Waits (bounded) until pred() is truthy; returns its value or None."""
        deadline = time.monotonic() + max(0.0, timeout)
        with self._cv:
            while True:
                v = pred()
                if v:
                    return v
                left = deadline - time.monotonic()
                if left <= 0 or (self.proc is not None and self.proc.poll() is not None):
                    return pred() or None
                self._cv.wait(min(left, 0.2))

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def _require_alive(self):
        if not self.alive():
            raise RuntimeError(f"{self!r} is not running; log tail:\n{self.log()[-3000:]}")

    def _text(self) -> str:
        with self._cv:
            return "\n".join(self._lines)

    def log(self) -> str:
        return self._text()

    def _line_mark(self) -> int:
        with self._cv:
            return len(self._lines)

    def _text_since(self, mark: int) -> str:
        with self._cv:
            return "\n".join(self._lines[mark:])

    # ---- call / message bookkeeping (call with self._cv held)
    def _call_new(self, direction: str) -> None:
        for c in self._calls:
            c["consumed"] = True
        self._calls.append({"states": set(), "consumed": False, "dir": direction})

    def _call_state(self, state: str) -> None:
        cur = self._calls[-1] if self._calls else None
        if cur is None or ("closed" in cur["states"] and state != "closed"):
            self._call_new("incoming" if state == "ringing" else "unknown")
            cur = self._calls[-1]
        if state == "established":
            cur["states"].add("ringing")
        cur["states"].add(state)

    def _message_received(self, sender: str, body: str) -> None:
        self._messages.append((sender, body))

    def wait_call_state(self, state: str, timeout: float = 20) -> bool:
        """Waits until the current call reached `state`: "ringing" (180/183 for the caller, an
        incoming call for the callee, or any later state), "established" (200 OK/ACK) or
        "closed". Calls already seen closed by a previous wait (or hung up, or followed by
        another call) are ignored."""
        if state not in CALL_STATES:
            raise ValueError(f"state must be one of {CALL_STATES}")

        def pred():
            live = [c for c in self._calls if not c["consumed"]]
            if not live:
                return False
            cur = live[-1]
            if state == "closed":
                if "closed" in cur["states"]:
                    return cur
                return False
            if state in cur["states"]:
                return cur
            return False

        c = self._wait(pred, timeout)
        if c and state == "closed":
            with self._cv:
                c["consumed"] = True
        return bool(c)

    def wait_message(self, text: str, timeout: float = 10) -> bool:
        return bool(self._wait(lambda: any(text in body for _, body in self._messages), timeout))

    def received_messages(self) -> list[tuple[str, str]]:
        with self._cv:
            return list(self._messages)

    # ---- registration helpers from the SIP trace
    def _register_responses(self, mark: int = 0) -> list[str]:
        return [m for m in sip_messages(self._text_since(mark))
                if sip_status(m) is not None and sip_cseq_method(m) == "REGISTER"]

    def _reg_result_from_trace(self, mark: int, ok_hint: Optional[bool], detail: str) -> RegResult:
        msgs = [m for m in sip_messages(self._text_since(mark)) if sip_cseq_method(m) == "REGISTER"]
        final = [r for r in msgs if (sip_status(r) or 0) >= 200]
        status = sip_status(final[-1]) if final else None
        expires = None
        if final and status is not None and 200 <= status < 300:
            resp = final[-1]
            key = (sip_header(resp, "Call-ID", "i"), sip_header(resp, "CSeq"))
            reqs = [m for m in msgs if m.startswith("REGISTER ")
                    and (sip_header(m, "Call-ID", "i"), sip_header(m, "CSeq")) == key]
            expires = granted_expiry(resp, self.local_hostport, reqs[-1] if reqs else None)
        ok = ok_hint if ok_hint is not None else (status is not None and 200 <= status < 300)
        if ok and (status is None or status >= 300):
            ok = status is None
        return RegResult(ok=bool(ok), status=status, expires=expires if ok else None, detail=detail)

    # ---- API
    def start(self) -> None:
        raise NotImplementedError

    def register(self, timeout: float = 15) -> RegResult:
        """REGISTERs (digest auth) through the outbound proxy and waits for the final outcome:
        ok, final status (401/403 when the password is wrong), the granted expiry."""
        self._require_alive()
        r = self._register(timeout)
        if r.ok:
            self.registered = True
        return r

    def unregister(self, timeout: float = 10) -> bool:
        """REGISTER Expires 0; True when the registrar answered 2xx (also True, without any
        traffic, when register() has not succeeded since the last unregister)."""
        self._require_alive()
        if not self.registered:
            return True
        ok = self._unregister(timeout)
        if ok:
            self.registered = False
        return ok

    def _register(self, timeout: float) -> RegResult:
        raise NotImplementedError

    def _unregister(self, timeout: float) -> bool:
        raise NotImplementedError

    def call(self, target: str) -> None:
        raise NotImplementedError

    def hangup(self) -> None:
        raise NotImplementedError

    def send_message(self, target: str, text: str) -> None:
        raise NotImplementedError

    def received_audio_wav(self) -> Optional[str]:
        return None

    def _graceful_stop(self) -> None:
        pass

    def stop(self) -> None:
        """Unregisters if registered (bounded), asks the client to quit, then kills its process
        group (by pid) whatever happened. Idempotent."""
        if self.proc is None or self._stopping:
            return
        self._stopping = True
        try:
            self._shutdown_process(unregister=True)
        finally:
            _LIVE.discard(self)

    def _shutdown_process(self, unregister: bool) -> None:
        try:
            if self.proc.poll() is None:
                try:
                    if unregister and self.registered:      # leave no stale binding behind
                        self.unregister(timeout=3)
                except Exception:
                    pass
                try:
                    self._graceful_stop()
                except Exception:
                    pass
                try:
                    self.proc.wait(timeout=4)
                except subprocess.TimeoutExpired:
                    pass
        finally:
            self._kill_group()
            for t in self._threads:
                t.join(timeout=2)
            self._threads = []
            if self._log_file:
                try:
                    self._log_file.close()
                except OSError:
                    pass
                self._log_file = None

    def _kill_group(self) -> None:
        p = self.proc
        if p is None:
            return
        for sig, wait in ((signal.SIGTERM, 3), (signal.SIGKILL, 5)):
            try:
                os.killpg(p.pid, sig)      # the session/process group this driver started
            except (ProcessLookupError, PermissionError):
                pass
            try:
                p.wait(timeout=wait)
                # the leader is gone; make sure no child of the group survives
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
                break
            except subprocess.TimeoutExpired:
                continue
        for f in (p.stdin, p.stdout):
            try:
                if f:
                    f.close()
            except OSError:
                pass

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()


# ----------------------------------------------------------------------------------------------
# baresip

class Baresip(SoftPhone):
    kind = "baresip"

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.ctrl_port = None
        self._sock: Optional[socket.socket] = None
        self._sock_lock = threading.Lock()
        self._responses: dict[str, dict] = {}
        self._events: list[dict] = []
        self._token = 0
        self._trace_in = False            # the current SIP trace block was received
        self._msg: Optional[dict] = None  # a received MESSAGE being collected from the trace
        self.snd_dir = os.path.join(self.workdir, "snd")

    # TLS: baresip listens TLS on sip_listen port + 1
    @property
    def sip_listen_port(self) -> int:
        return self.local_port + 1 if self.transport == "tls" else self.local_port

    def _account_line(self, regint: int) -> str:
        t = self.transport
        params = [f"auth_pass={self.password}"]
        if self.auth_user:
            params.insert(0, f"auth_user={self.auth_user}")
        params += [f'outbound="{self.proxy_uri()}"', f"regint={regint}", "answermode=auto",
                   "audio_codecs=PCMU,PCMA", "ptime=20"]
        return f"<sip:{self.user}@{self.domain};transport={t}>;" + ";".join(params)

    def _config(self) -> str:
        lo, hi = rtp_range(self.local_port)
        lines = [
            "poll_method epoll",
            f"sip_listen 127.0.0.1:{self.local_port}",
            "net_interface 127.0.0.1",
            "call_local_timeout 120",
            "call_max_calls 4",
            "audio_player alsa,null",
            "audio_source ausine,440",
            "audio_alert alsa,null",
            "ausrc_srate 48000",
            "ausrc_channels 2",
            "audio_level no",
            "audio_buffer 20-160",
            f"rtp_ports {lo}-{hi}",
            "rtcp_mux no",
            "jitter_buffer_delay 5-10",
            "module_path /usr/lib/baresip/modules",
            "module g711.so",
            "module ausine.so",
            "module alsa.so",
            "module sndfile.so",
            "module_tmp uuid.so",
            "module_tmp account.so",
            "module_app menu.so",
            "module_app contact.so",
            "module_app ctrl_tcp.so",
            f"ctrl_tcp_listen 127.0.0.1:{self.ctrl_port}",
            f"snd_path {self.snd_dir}",
        ]
        if self.transport == "tls":
            lines.append(f"sip_certificate {self._ensure_cert()}")
        return "\n".join(lines) + "\n"

    def _ensure_cert(self) -> str:
        """A self-signed cert+key (PEM, one file) for baresip's TLS listener."""
        path = os.path.join(self.workdir, "tls.pem")
        if not os.path.exists(path):
            key, crt = path + ".key", path + ".crt"
            subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                            "-subj", "/CN=127.0.0.1", "-keyout", key, "-out", crt],
                           check=True, capture_output=True, timeout=60)
            with open(path, "w") as out:
                out.write(open(crt).read() + open(key).read())
        return path

    def start(self) -> None:
        if self.alive():
            return
        os.makedirs(self.snd_dir, exist_ok=True)
        self.ctrl_port = free_port()
        with open(os.path.join(self.workdir, "config"), "w") as f:
            f.write(self._config())
        with open(os.path.join(self.workdir, "accounts"), "w") as f:
            f.write(self._account_line(regint=0) + "\n")
        with open(os.path.join(self.workdir, "contacts"), "w") as f:
            f.write("\n")
        env = dict(os.environ, HOME=self.workdir)
        self._spawn(["baresip", "-f", self.workdir, "-s"], env=env, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"baresip exited {self.proc.returncode}:\n{self.log()[-3000:]}")
            try:
                self._sock = socket.create_connection(("127.0.0.1", self.ctrl_port), timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        else:
            self.stop()
            raise RuntimeError(f"baresip ctrl_tcp did not come up:\n{self.log()[-3000:]}")
        self._sock.settimeout(None)
        t = threading.Thread(target=self._ctrl_reader, daemon=True, name="baresip-ctrl")
        t.start()
        self._threads.append(t)
        # the UA exists (regint=0): wait until baresip answers commands
        r = self._cmd("reginfo", timeout=10)
        if r is None:
            raise RuntimeError(f"baresip does not answer ctrl_tcp:\n{self.log()[-3000:]}")

    def _ctrl_reader(self) -> None:
        buf = b""
        sock = self._sock
        while True:
            try:
                chunk = sock.recv(65536)
            except OSError:
                break
            if not chunk:
                break
            buf += chunk
            while True:
                colon = buf.find(b":")
                if colon < 0:
                    break
                try:
                    n = int(buf[:colon])
                except ValueError:
                    buf = b""
                    break
                if len(buf) < colon + 1 + n + 1:
                    break
                payload = buf[colon + 1:colon + 1 + n]
                buf = buf[colon + 1 + n + 1:]
                try:
                    obj = json.loads(payload.decode(errors="replace"))
                except ValueError:
                    continue
                self._on_ctrl(obj)
        with self._cv:
            self._cv.notify_all()

    def _on_ctrl(self, obj: dict) -> None:
        with self._cv:
            self._lines.append("CTRL " + json.dumps(obj))
            if obj.get("response"):
                self._responses[str(obj.get("token"))] = obj
            elif obj.get("event"):
                self._events.append(obj)
                self._on_event(obj)
            elif obj.get("message"):
                self._message_received(str(obj.get("peer_uri") or obj.get("peer") or ""),
                                       str(obj.get("body") or obj.get("data") or ""))
            self._cv.notify_all()

    def _on_event(self, ev: dict) -> None:
        typ = ev.get("type", "")
        if typ == "CALL_INCOMING":
            self._call_new("incoming")
            self._call_state("ringing")
        elif typ in ("CALL_RINGING", "CALL_PROGRESS"):
            self._call_state("ringing")
        elif typ == "CALL_ESTABLISHED":
            self._call_state("established")
        elif typ == "CALL_CLOSED":
            self._call_state("closed")
        elif typ in ("MESSAGE", "MESSAGE_RECEIVED"):
            self._message_received(str(ev.get("peeruri", "")), str(ev.get("param", "")))

    def _on_line(self, line: str) -> None:
        # A received MESSAGE is taken from the SIP trace (-s): baresip 1.0.0 answers it 200 but
        # neither prints it nor sends a ctrl_tcp event. Trace blocks: "#", "UDP src -> dst", msg.
        clean = line.replace("\x1b[;m", "").replace("\x1b[36;1m", "")
        m = re.match(r"^(UDP|TCP|TLS) (\S+) -> (\S+)$", clean)
        if m:
            # everything goes through the proxy: what is not sent to it was received
            self._trace_in = not m.group(3).endswith(f":{self.proxy_port}")
            self._msg = None
            return
        st = self._msg
        if st is None:
            if self._trace_in and clean.startswith("MESSAGE "):
                self._msg = {"head": [clean], "body": None, "len": 0}
            return
        if st["body"] is None:
            if clean == "":
                st["body"] = ""
                hdrs = "\n".join(st["head"])
                cl = re.search(r"(?im)^(?:content-length|l)\s*:\s*(\d+)", hdrs)
                st["len"] = int(cl.group(1)) if cl else 0
                if st["len"] == 0:
                    self._msg_done(st)
            else:
                st["head"].append(clean)
            return
        st["body"] += ("\n" if st["body"] else "") + clean
        if len(st["body"].encode()) >= st["len"] or line.endswith("\x1b[;m"):
            self._msg_done(st)

    def _msg_done(self, st: dict) -> None:
        self._msg = None
        self._trace_in = False
        frm = sip_header("\n".join(st["head"]) + "\n\n", "From", "f")
        sender = re.search(r"<([^>]+)>", frm[0]).group(1) if frm and "<" in frm[0] else (frm[0] if frm else "")
        self._message_received(sender, st["body"])

    def _cmd(self, command: str, params: str = "", timeout: float = 5) -> Optional[dict]:
        if self._sock is None:
            return None
        with self._sock_lock:
            self._token += 1
            token = f"t{self._token}"
        data = json.dumps({"command": command, "params": params, "token": token}).encode()
        try:
            with self._sock_lock:
                self._sock.sendall(str(len(data)).encode() + b":" + data + b",")
        except OSError:
            return None
        return self._wait(lambda: self._responses.get(token), timeout)

    def _event_mark(self) -> int:
        with self._cv:
            return len(self._events)

    def _wait_event(self, types: tuple[str, ...], mark: int, timeout: float) -> Optional[dict]:
        def pred():
            for ev in self._events[mark:]:
                if ev.get("type") in types:
                    return ev
            return None
        return self._wait(pred, timeout)

    def _register(self, timeout: float = 15) -> RegResult:
        if self.registered:
            # deleting a registered UA unregisters it in the background, which could race the new
            # UA's REGISTER for the same contact: unregister first, synchronously
            self._unregister(timeout=5)
        self._cmd("uadel", self.aor)
        mark, emark = self._line_mark(), self._event_mark()
        r = self._cmd("uanew", self._account_line(regint=self.expires))
        if r is None or not r.get("ok", False):
            return RegResult(False, None, None, f"uanew failed: {r}")
        ev = self._wait_event(("REGISTER_OK", "REGISTER_FAIL"), emark, timeout)
        if ev is None:
            res = self._reg_result_from_trace(mark, None, "timeout waiting for REGISTER_OK/FAIL")
            res.ok = False
            return res
        ok = ev["type"] == "REGISTER_OK"
        # the 200 OK is printed (SIP trace) just before the event: let the reader catch up
        if ok:
            self._wait(lambda: any((sip_status(x) or 0) >= 200 for x in self._register_responses(mark)), 2)
        res = self._reg_result_from_trace(mark, ok, f"{ev['type']} {ev.get('param', '')}".strip())
        if res.status is None:
            m = re.match(r"(\d{3})", str(ev.get("param", "")))
            res.status = int(m.group(1)) if m else None
        if ok and res.expires is None:
            info = self._cmd("reginfo") or {}
            m = re.search(r"Expires (\d+)s", str(info.get("data", "")))
            res.expires = int(m.group(1)) if m else None
        return res

    def _unregister(self, timeout: float = 10) -> bool:
        mark = self._line_mark()
        self._cmd("uadel", self.aor)

        def done():
            for m in sip_messages(self._text_since(mark)):
                st = sip_status(m)
                if st is not None and st >= 200 and sip_cseq_method(m) == "REGISTER" and st != 401 and st != 407:
                    return m
            return None

        resp = self._wait(done, timeout)
        self._cmd("uanew", self._account_line(regint=0))
        return bool(resp) and 200 <= (sip_status(resp) or 0) < 300

    def call(self, target: str) -> None:
        self._require_alive()
        with self._cv:
            self._call_new("outgoing")
        r = self._cmd("dial", self.target_uri(target))
        if r is None:
            raise RuntimeError(f"baresip dial: no answer\n{self.log()[-2000:]}")

    def hangup(self) -> None:
        if self.alive():
            self._cmd("hangup")

    def send_message(self, target: str, text: str) -> None:
        self._require_alive()
        uri = self.target_uri(target)
        self._cmd("rmmod", "contact")
        with open(os.path.join(self.workdir, "contacts"), "w") as f:
            f.write(f"<{uri}>\n")
        with open(os.path.join(self.workdir, "current_contact"), "w") as f:
            f.write(uri)
        self._cmd("insmod", "contact")
        r = self._cmd("message", text)
        if r is None or not r.get("ok", True):
            raise RuntimeError(f"baresip message failed: {r}")

    def received_audio_wav(self) -> Optional[str]:
        """The sndfile module's decoded (received) audio of the last call, 8 kHz mono; waits
        (<= 5 s) for the WAV header to be completed when the call has just closed."""
        def newest():
            files = glob.glob(os.path.join(self.snd_dir, "*-dec.wav"))
            return max(files, key=os.path.getmtime) if files else None
        return wait_wav(newest)

    def _graceful_stop(self) -> None:
        if self._sock is not None:
            self._cmd("quit", timeout=2)
            try:
                self._sock.close()
            except OSError:
                pass


# ----------------------------------------------------------------------------------------------
# linphonec

_LP_REG = re.compile(r"Account \[[^\]]*\] for identity \[[^\]]*\] moving from state \[(\w+)\] to \[(\w+)\]")
_LP_CALL = re.compile(r"CallSession \[[^\]]*\] moving from state (\w+) to (\w+)")
_LP_REFRESHER = re.compile(r"Register refresher \[(\d+)\] reason \[([^\]]*)\]")
_LP_CHAT_IN = re.compile(r"^(?:linphonec> )*(?:Message received from )?(sips?:\S+?)\s*:\s*(.*)$")


class Linphonec(SoftPhone):
    kind = "linphonec"

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.home = os.path.join(self.workdir, "home")
        self.rc = os.path.join(self.workdir, "linphonerc")
        self.tone_wav = os.path.join(self.workdir, "tone440.wav")
        self.rx_wav = os.path.join(self.workdir, "received.wav")
        self._reg_events: list[tuple[str, Optional[int], str]] = []   # (state, last refresher code, reason)
        self._last_refresher: tuple[Optional[int], str] = (None, "")

    def _rc_text(self) -> str:
        L = self.local_port
        # 0 disables a transport (-1 would mean "random port")
        ports = {"udp": (L, 0, 0), "tcp": (0, L, 0), "tls": (0, 0, L)}[self.transport]
        lo, hi = rtp_range(self.local_port)
        mid = (lo + hi) // 2
        auth_user = self.auth_user or self.user
        return f"""[sip]
sip_port={ports[0]}
sip_tcp_port={ports[1]}
sip_tls_port={ports[2]}
default_proxy=0
register_only_when_network_is_up=0
register_only_when_upnp_is_ok=0
auto_net_state_mon=0
ipv6_enabled=0
supported=replaces
verify_server_certs=0
verify_server_cn=0
inc_timeout=60
auto_send_ringing=1
use_ipv6=0

[net]
mtu=1300
firewall_policy=0

[rtp]
audio_rtp_port={lo}-{mid}
video_rtp_port={mid + 1}-{hi}
audio_jitt_comp=60
nortp_timeout=30

[sound]
echocancellation=0
remote_ring=
local_ring=

[video]
enabled=0
capture=0
display=0

[proxy_0]
reg_proxy=<{self.proxy_uri()}>
reg_route=<{self.proxy_uri(lr=True)}>
reg_identity=sip:{self.user}@{self.domain}
reg_expires={self.expires}
reg_sendregister=0
publish=0
dial_escape_plus=0
quality_reporting_enabled=0
avpf=0

[auth_info_0]
username={self.user}
userid={auth_user}
passwd={self.password}
domain={self.domain}
"""

    def start(self) -> None:
        if self.alive():
            return
        os.makedirs(os.path.join(self.home, ".local", "share", "linphone"), exist_ok=True)
        with open(self.rc, "w") as f:
            f.write(self._rc_text())
        if not os.path.exists(self.tone_wav):
            write_tone_wav(self.tone_wav, 440.0, seconds=60, rate=8000)
        env = dict(os.environ, HOME=self.home)
        env.pop("DISPLAY", None)
        self._spawn(["linphonec", "-c", self.rc, "-a", "-d", "6"], env=env)
        # linphonec reads stdin once it is initialised: queue the setup, then wait for the answer
        # to the last command (the prompt has no newline, so it cannot be waited for)
        mark = self._line_mark()
        for c in ("soundcard use files", f"play {self.tone_wav}", f"record {self.rx_wav}",
                  "autoanswer enable", "status autoanswer"):
            self._send(c)
        if not self._wait(lambda: any(re.search(r"(?i)auto.?answer.*enabled", l) for l in self._lines[mark:]), 20):
            raise RuntimeError(f"linphonec did not start:\n{self.log()[-3000:]}")

    def _restart(self) -> None:
        self._shutdown_process(unregister=False)
        self.proc = None
        self.start()

    def _send(self, line: str) -> None:
        self._require_alive()
        try:
            self.proc.stdin.write((line + "\n").encode())
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError) as e:
            raise RuntimeError(f"linphonec stdin closed: {e}\n{self.log()[-2000:]}")

    def _on_line(self, line: str) -> None:
        m = _LP_REFRESHER.search(line)
        if m:
            self._last_refresher = (int(m.group(1)), m.group(2))
        m = _LP_REG.search(line)
        if m:
            self._reg_events.append((m.group(2), *self._last_refresher))
            return
        m = _LP_CALL.search(line)
        if m:
            new = m.group(2)
            if new == "LinphoneCallIncomingReceived":
                self._call_new("incoming")
                self._call_state("ringing")
            elif new in ("LinphoneCallOutgoingRinging", "LinphoneCallOutgoingEarlyMedia",
                         "LinphoneCallIncomingEarlyMedia"):
                self._call_state("ringing")
            elif new in ("LinphoneCallConnected", "LinphoneCallStreamsRunning"):
                self._call_state("established")
            elif new in ("LinphoneCallEnd", "LinphoneCallError", "LinphoneCallReleased"):
                cur = self._calls[-1] if self._calls else None
                if cur is None or "closed" not in cur["states"]:
                    self._call_state("closed")
            return
        if "liblinphone-" in line or "belle-sip-" in line or "mediastreamer-" in line or "ortp-" in line:
            return
        m = _LP_CHAT_IN.match(line)
        if m and "Message received" in line:
            self._message_received(m.group(1), m.group(2))

    def _reg_mark(self) -> int:
        with self._cv:
            return len(self._reg_events)

    def _register(self, timeout: float = 15) -> RegResult:
        if self.registered:
            # `register` on a registered default proxy only prints "already registered"
            self._unregister(timeout=5)
        elif self._reg_events and self._reg_events[-1][0] == "LinphoneRegistrationFailed":
            # after a failure `register` (with or without arguments) sends nothing: restart
            self._restart()
        mark, rmark = self._line_mark(), self._reg_mark()
        with self._cv:
            self._last_refresher = (None, "")
        self._send("register")

        def pred():
            for st, code, reason in self._reg_events[rmark:]:
                if st in ("LinphoneRegistrationOk", "LinphoneRegistrationFailed"):
                    return (st, code, reason)
            return None

        ev = self._wait(pred, timeout)
        if ev is None:
            res = self._reg_result_from_trace(mark, None, "timeout waiting for registration state")
            res.ok = False
            return res
        st, code, reason = ev
        ok = st == "LinphoneRegistrationOk"
        res = self._reg_result_from_trace(mark, ok, f"{st} {code or ''} {reason}".strip())
        if res.status is None or (not ok and code):
            res.status = code if code else res.status
        return res

    def _unregister(self, timeout: float = 10) -> bool:
        rmark = self._reg_mark()
        self._send("unregister")

        def pred():
            for st, code, _ in self._reg_events[rmark:]:
                if st in ("LinphoneRegistrationCleared", "LinphoneRegistrationFailed"):
                    return st
            return None

        return self._wait(pred, timeout) == "LinphoneRegistrationCleared"

    def call(self, target: str) -> None:
        with self._cv:
            self._call_new("outgoing")
        self._send(f"call {self.target_uri(target)} --audio-only")

    def hangup(self) -> None:
        if self.alive():
            self._send("terminate")

    def send_message(self, target: str, text: str) -> None:
        # linphonec 5.1 takes the rest of the line as the text; quotes would be sent literally
        if "\n" in text or "\r" in text:
            raise ValueError("linphonec chat text cannot contain newlines")
        self._send(f"chat {self.target_uri(target)} {text}")

    def received_audio_wav(self) -> Optional[str]:
        """The `record` file (what the last call received); rewritten by every call."""
        p = wait_wav(lambda: self.rx_wav if os.path.exists(self.rx_wav) else None)
        return p if p and os.path.getsize(p) > 44 else None

    def _graceful_stop(self) -> None:
        try:
            self._send("terminate all")
            self._send("quit")
        except RuntimeError:
            pass


# ----------------------------------------------------------------------------------------------
# pjsua2 (runs as an agent subprocess: this file with --pjsua2-agent)

class Pjsua2(SoftPhone):
    kind = "pjsua2"

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self._events: list[dict] = []

    def start(self) -> None:
        if self.alive():
            return
        lo, hi = rtp_range(self.local_port)
        cfg = {"user": self.user, "password": self.password, "domain": self.domain,
               "auth_user": self.auth_user or self.user, "proxy": self.proxy_uri(lr=True),
               "local_port": self.local_port, "transport": self.transport, "expires": self.expires,
               "rtp_port": lo, "rtp_range": hi - lo + 1, "workdir": self.workdir}
        self._spawn([sys.executable, "-u", os.path.abspath(__file__), "--pjsua2-agent", json.dumps(cfg)])
        ev = self._wait(lambda: self._find_event("ready", 0) or self._find_event("fatal", 0), 20)
        if not ev or ev.get("ev") != "ready":
            raise RuntimeError(f"pjsua2 agent did not start: {ev}\n{self.log()[-3000:]}")

    def _find_event(self, name: str, mark: int) -> Optional[dict]:
        for e in self._events[mark:]:
            if e.get("ev") == name:
                return e
        return None

    def _on_line(self, line: str) -> None:
        if not line.startswith("@@EV "):
            return
        try:
            ev = json.loads(line[5:])
        except ValueError:
            return
        self._events.append(ev)
        kind = ev.get("ev")
        if kind == "call":
            st = ev.get("state")
            if st == "incoming":
                self._call_new("incoming")
                self._call_state("ringing")
            elif st in CALL_STATES:
                self._call_state(st)
        elif kind == "msg":
            self._message_received(ev.get("from", ""), ev.get("body", ""))

    def _send(self, obj: dict) -> None:
        self._require_alive()
        try:
            self.proc.stdin.write((json.dumps(obj) + "\n").encode())
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError) as e:
            raise RuntimeError(f"pjsua2 agent stdin closed: {e}\n{self.log()[-2000:]}")

    def _ev_mark(self) -> int:
        with self._cv:
            return len(self._events)

    def _register(self, timeout: float = 15) -> RegResult:
        mark = self._ev_mark()
        self._send({"op": "register"})

        def pred():
            for e in self._events[mark:]:
                if e.get("ev") == "reg" and e.get("final"):
                    return e
            return None

        e = self._wait(pred, timeout)
        if e is None:
            return RegResult(False, None, None, "timeout waiting for onRegState")
        code = e.get("code")
        ok = bool(code and 200 <= code < 300 and e.get("expiration", 0) > 0)
        return RegResult(ok, code, e.get("expiration") if ok else None, f"{code} {e.get('reason', '')}".strip())

    def _unregister(self, timeout: float = 10) -> bool:
        mark = self._ev_mark()
        self._send({"op": "unregister"})

        def pred():
            for e in self._events[mark:]:
                if e.get("ev") == "reg" and e.get("final"):
                    return e
            return None

        e = self._wait(pred, timeout)
        return bool(e and e.get("code") and 200 <= e["code"] < 300)

    def call(self, target: str) -> None:
        with self._cv:
            self._call_new("outgoing")
        self._send({"op": "call", "uri": self.target_uri(target)})

    def hangup(self) -> None:
        if self.alive():
            self._send({"op": "hangup"})

    def send_message(self, target: str, text: str) -> None:
        self._send({"op": "message", "uri": self.target_uri(target), "text": text})

    def received_audio_wav(self) -> Optional[str]:
        """The AudioMediaRecorder WAV of the last call (16 kHz mono); the agent reports it once
        the call is over and the recorder destroyed (waits <= 5 s for that)."""
        def last():
            with self._cv:
                paths = [e["path"] for e in self._events if e.get("ev") == "recorded"]
                with_media = sum(1 for c in self._calls if "established" in c["states"])
            if not paths or len(paths) < with_media:      # the last call is not reported yet
                return None
            return paths[-1] if os.path.exists(paths[-1]) else None
        return wait_wav(last)

    def _graceful_stop(self) -> None:
        try:
            self._send({"op": "quit"})
        except RuntimeError:
            return
        self._wait(lambda: self._find_event("bye", 0), 8)


CLIENTS = {"baresip": Baresip, "linphonec": Linphonec, "pjsua2": Pjsua2}


def _pjsua2_agent(cfg: dict) -> int:
    """One pjsua2 UA driven by JSON lines on stdin; events are printed as '@@EV {json}'."""
    import pjsua2 as pj

    out_lock = threading.Lock()

    def emit(**ev):
        with out_lock:
            sys.stdout.write("@@EV " + json.dumps(ev) + "\n")
            sys.stdout.flush()

    class Writer(pj.LogWriter):
        def write(self, entry):
            with out_lock:
                sys.stdout.write(entry.msg if entry.msg.endswith("\n") else entry.msg + "\n")
                sys.stdout.flush()

    workdir = cfg["workdir"]
    tone = os.path.join(workdir, "tone440.wav")
    if not os.path.exists(tone):
        write_tone_wav(tone, 440.0, seconds=20, rate=16000)

    ep = pj.Endpoint()
    ep.libCreate()
    epc = pj.EpConfig()
    epc.uaConfig.threadCnt = 0
    epc.uaConfig.mainThreadOnly = True
    epc.uaConfig.maxCalls = 4
    epc.uaConfig.userAgent = "pjsua2-interop"
    writer = Writer()
    epc.logConfig.writer = writer
    epc.logConfig.level = 5
    epc.logConfig.consoleLevel = 5
    epc.logConfig.msgLogging = True
    epc.medConfig.noVad = True
    epc.medConfig.clockRate = 16000
    ep.libInit(epc)

    tcfg = pj.TransportConfig()
    tcfg.port = int(cfg["local_port"])
    tcfg.boundAddress = "127.0.0.1"
    tcfg.publicAddress = "127.0.0.1"
    ttype = {"udp": pj.PJSIP_TRANSPORT_UDP, "tcp": pj.PJSIP_TRANSPORT_TCP,
             "tls": pj.PJSIP_TRANSPORT_TLS}[cfg["transport"]]
    if cfg["transport"] == "tls":
        tcfg.tlsConfig.verifyServer = False
        tcfg.tlsConfig.method = pj.PJSIP_TLSV1_2_METHOD if hasattr(pj, "PJSIP_TLSV1_2_METHOD") else tcfg.tlsConfig.method
    tid = ep.transportCreate(ttype, tcfg)
    ep.libStart()
    ep.audDevManager().setNullDev()

    state = {"calls": [], "recorders": [], "players": [], "buddies": [], "cleanup": False,
             "rec_n": 0, "running": True}

    class Call(pj.Call):
        def __init__(self, acc, call_id=pj.PJSUA_INVALID_ID):
            super().__init__(acc, call_id)
            self.rec = None
            self.player = None

        def onCallState(self, prm):
            ci = self.getInfo()
            if ci.state in (pj.PJSIP_INV_STATE_EARLY,) and ci.role == pj.PJSIP_ROLE_UAC:
                emit(ev="call", state="ringing", code=ci.lastStatusCode)
            elif ci.state == pj.PJSIP_INV_STATE_CONFIRMED:
                emit(ev="call", state="established")
            elif ci.state == pj.PJSIP_INV_STATE_DISCONNECTED:
                state["cleanup"] = True
                emit(ev="call", state="closed", code=ci.lastStatusCode, reason=ci.lastReason)

        def onCallMediaState(self, prm):
            ci = self.getInfo()
            for i, mi in enumerate(ci.media):
                if mi.type == pj.PJMEDIA_TYPE_AUDIO and mi.status == pj.PJSUA_CALL_MEDIA_ACTIVE:
                    am = self.getAudioMedia(i)
                    if self.player is None:
                        self.player = pj.AudioMediaPlayer()
                        self.player.createPlayer(tone)
                        self.player.startTransmit(am)
                    if self.rec is None:
                        state["rec_n"] += 1
                        path = os.path.join(workdir, f"received-{state['rec_n']}.wav")
                        self.rec = pj.AudioMediaRecorder()
                        self.rec.createRecorder(path)
                        am.startTransmit(self.rec)
                        self.rec_path = path

    class Account(pj.Account):
        def onRegState(self, prm):
            final = prm.code >= 200 or prm.code == 0
            emit(ev="reg", code=prm.code, reason=prm.reason, expiration=prm.expiration, final=final,
                 active=self.getInfo().regIsActive)

        def onIncomingCall(self, prm):
            c = Call(self, prm.callId)
            state["calls"].append(c)
            emit(ev="call", state="incoming")
            op = pj.CallOpParam()
            op.statusCode = 180
            c.answer(op)
            op = pj.CallOpParam()
            op.statusCode = 200
            c.answer(op)

        def onInstantMessageStatus(self, prm):
            emit(ev="msgstatus", code=prm.code, reason=prm.reason, to=prm.toUri)

        def onInstantMessage(self, prm):
            emit(ev="msg", **{"from": prm.fromUri, "body": prm.msgBody, "ctype": prm.contentType})

    class Buddy(pj.Buddy):
        def onBuddyState(self):
            pass

    acfg = pj.AccountConfig()
    acfg.idUri = f"sip:{cfg['user']}@{cfg['domain']}"
    acfg.regConfig.registrarUri = f"sip:{cfg['domain']}"
    acfg.regConfig.registerOnAdd = False
    acfg.regConfig.timeoutSec = int(cfg["expires"])
    acfg.regConfig.retryIntervalSec = 0
    acfg.regConfig.dropCallsOnFail = False
    acfg.sipConfig.proxies.append(cfg["proxy"])
    acfg.sipConfig.transportId = tid
    acfg.sipConfig.authCreds.append(pj.AuthCredInfo("digest", "*", cfg["auth_user"], 0, cfg["password"]))
    acfg.mediaConfig.transportConfig.port = int(cfg["rtp_port"])
    acfg.mediaConfig.transportConfig.portRange = int(cfg["rtp_range"])
    acfg.mediaConfig.transportConfig.boundAddress = "127.0.0.1"
    acfg.mediaConfig.transportConfig.publicAddress = "127.0.0.1"
    acfg.natConfig.iceEnabled = False
    acfg.natConfig.sdpNatRewriteUse = 0
    acfg.natConfig.sipOutboundUse = 0
    acfg.natConfig.contactRewriteUse = 0
    acfg.natConfig.viaRewriteUse = 0
    acc = Account()
    acc.create(acfg)
    emit(ev="ready", port=cfg["local_port"])

    def finish_calls():
        keep = []
        for c in state["calls"]:
            try:
                active = c.isActive()
            except Exception:
                active = False
            if active:
                keep.append(c)
                continue
            if c.rec is not None:
                emit(ev="recorded", path=getattr(c, "rec_path", ""))
            c.rec = None       # destroys the recorder: the WAV header is completed
            c.player = None
        state["calls"] = keep

    def handle(cmd: dict):
        op = cmd.get("op")
        if op == "register":
            acc.setRegistration(True)
        elif op == "unregister":
            acc.setRegistration(False)
        elif op == "call":
            c = Call(acc)
            state["calls"].append(c)
            try:
                c.makeCall(cmd["uri"], pj.CallOpParam(True))
            except pj.Error as e:
                emit(ev="call", state="closed", code=0, reason=str(e.info()))
        elif op == "hangup":
            for c in state["calls"]:
                try:
                    if c.isActive():
                        c.hangup(pj.CallOpParam())
                except pj.Error as e:
                    emit(ev="error", what=str(e.info()))
        elif op == "message":
            bc = pj.BuddyConfig()
            bc.uri = cmd["uri"]
            bc.subscribe = False
            b = Buddy()
            b.create(acc, bc)
            state["buddies"].append(b)
            p = pj.SendInstantMessageParam()
            p.content = cmd["text"]
            b.sendInstantMessage(p)
        elif op == "quit":
            state["running"] = False

    buf = b""
    fd = sys.stdin.fileno()
    quit_deadline = None
    while True:
        ep.libHandleEvents(20)
        if state["cleanup"]:
            state["cleanup"] = False
            finish_calls()
        if state["running"]:
            r, _, _ = select.select([fd], [], [], 0)
            if r:
                data = os.read(fd, 65536)
                if not data:
                    state["running"] = False
                buf += data
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    if line.strip():
                        try:
                            handle(json.loads(line))
                        except Exception as e:     # report and keep serving
                            emit(ev="error", what=repr(e))
        else:
            if quit_deadline is None:
                quit_deadline = time.monotonic() + 3
                ep.hangupAllCalls()
                try:
                    if acc.getInfo().regIsActive:
                        acc.setRegistration(False)
                except pj.Error:
                    pass
            finish_calls()
            if time.monotonic() > quit_deadline or (not state["calls"] and not acc.getInfo().regIsActive):
                break
    finish_calls()
    for c in state["calls"]:
        c.rec = None
        c.player = None
    state["calls"].clear()
    state["buddies"].clear()
    acc.shutdown()
    del acc
    emit(ev="bye")
    ep.libDestroy()
    return 0


if __name__ == "__main__" and len(sys.argv) >= 3 and sys.argv[1] == "--pjsua2-agent":
    try:
        sys.exit(_pjsua2_agent(json.loads(sys.argv[2])))
    except Exception as exc:       # reported to the parent driver
        sys.stdout.write("@@EV " + json.dumps({"ev": "fatal", "what": repr(exc)}) + "\n")
        sys.stdout.flush()
        sys.exit(3)
