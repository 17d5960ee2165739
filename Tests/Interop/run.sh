#!/usr/bin/env bash
# Runs the interop suite (pytest, real peers) inside a private network namespace where only `lo`
# exists, so no client can reach the outside world. Needs root or unprivileged user namespaces.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
export CW_AIO_BIN=${CW_AIO_BIN:-$root/.build/debug/cw-aio}
[ -x "$CW_AIO_BIN" ] || { echo "no cw-aio binary at $CW_AIO_BIN (run swift build)" >&2; exit 1; }
if [ "$(id -u)" = 0 ]; then ns=(unshare -n); else ns=(unshare -rn); fi
exec "${ns[@]}" bash -c 'ip link set lo up && exec python3 -m pytest -q -p no:cacheprovider "$0" "${@}"' "$here" "$@"
