#!/usr/bin/env bash
# Installs the real softphones used by Tests/Interop/softphones.py, only what is missing:
#   apt:  baresip-core linphone-cli sox openssl iproute2 util-linux
#   pip:  requirements.txt (pjsua2-python = PJSIP 2.15 with its Python binding, pytest)
# With --kamailio (or CW_AIO_KAMAILIO_TESTS=1) also the reference registrar used to validate the
# drivers: kamailio kamailio-sqlite-modules kamailio-tls-modules sqlite3 sip-tester (its service
# is kept from starting during the install).
# Idempotent: on a ready machine it makes no apt/pip traffic. Runs as root or through sudo.
# Only the Debian archive and PyPI are contacted.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

with_kamailio=${CW_AIO_KAMAILIO_TESTS:-0}
for a in "$@"; do
  case "$a" in
    --kamailio) with_kamailio=1 ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "unknown option $a" >&2; exit 2 ;;
  esac
done

if [ "$(id -u)" = 0 ]; then SUDO=(); else
  command -v sudo >/dev/null || { echo "install-clients.sh: need root or sudo" >&2; exit 1; }
  SUDO=(sudo)
fi
APT=("${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get)

pkgs=(baresip-core linphone-cli sox openssl iproute2 util-linux)
[ "$with_kamailio" = 1 ] && pkgs+=(kamailio kamailio-sqlite-modules kamailio-tls-modules sqlite3 sip-tester)

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-clients: apt installing ${missing[*]}"
  # keep the kamailio package from starting a system service on 5060 (cw-aio's port)
  policy=/usr/sbin/policy-rc.d; own_policy=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | "${SUDO[@]}" tee "$policy" >/dev/null
    "${SUDO[@]}" chmod 755 "$policy"; own_policy=1
  fi
  trap '[ "$own_policy" = 1 ] && "${SUDO[@]}" rm -f "$policy"' EXIT
  "${APT[@]}" update -qq
  "${APT[@]}" install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  if [ "$own_policy" = 1 ]; then "${SUDO[@]}" rm -f "$policy"; own_policy=0; fi
else
  echo "install-clients: apt packages present"
fi

# Python packages for the python3 that runs pytest (pyenv/venv/system).
PY=${PYTHON:-python3}
need_pip=()
"$PY" -c 'import pjsua2' 2>/dev/null || need_pip+=("pjsua2-python")
"$PY" -c 'import pytest' 2>/dev/null || need_pip+=("pytest")
"$PY" -c 'import sipvicious' 2>/dev/null || need_pip+=("sipvicious")
if [ ${#need_pip[@]} -gt 0 ]; then
  echo "install-clients: pip installing from requirements.txt (missing: ${need_pip[*]})"
  if ! "$PY" -m pip --version >/dev/null 2>&1; then
    "${APT[@]}" update -qq && "${APT[@]}" install -y -qq --no-install-recommends python3-pip >/dev/null
  fi
  pip_args=(-m pip install --disable-pip-version-check -q -r "$here/requirements.txt")
  # Debian's system python is "externally managed" (PEP 668)
  if "$PY" -c 'import os,sys,sysconfig; sys.exit(0 if os.path.exists(os.path.join(sysconfig.get_path("stdlib"),"EXTERNALLY-MANAGED")) and sys.prefix == sys.base_prefix else 1)'; then
    pip_args+=(--break-system-packages)
  fi
  purelib=$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  if [ "$(id -u)" = 0 ] || [ -w "$purelib" ]; then
    "$PY" "${pip_args[@]}"
  else
    "$PY" "${pip_args[@]}" --user
  fi
  "$PY" -c 'import pjsua2' || { echo "install-clients: pjsua2 still not importable" >&2; exit 1; }
else
  echo "install-clients: python packages present"
fi

for b in baresip linphonec sox; do
  command -v "$b" >/dev/null || { echo "install-clients: $b missing after install" >&2; exit 1; }
done
echo "install-clients: ready ($(baresip -h 2>&1 | head -1 | cut -d' ' -f1-2), linphonec $(linphonec -v 2>/dev/null | grep -o '[0-9][0-9.]*' | head -1), pjsua2 $("$PY" -c 'import importlib.metadata as m; print(m.version("pjsua2-python"))' 2>/dev/null))"
