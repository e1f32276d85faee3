#!/bin/sh
# Install what the build and the tests need, only if it is missing.
# Used by `make test`, `make demo`, `make fuzz`, `make bench`.
set -u
need=""
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
# libtdb-dev, tdb-tools: make bench's tdbtorture (Samba's tdb stress on the real library)
for p in build-essential libcmocka-dev uthash-dev clang libclang-rt-14-dev sqlite3 libsqlite3-dev util-linux python3 valgrind strace libtdb-dev tdb-tools; do
    have_pkg "$p" || need="$need $p"
done
[ -z "$need" ] && exit 0
if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO="sudo -n"; else
        echo "lockscope: missing packages:$need (run as root, or install them)" >&2
        exit 1
    fi
else
    SUDO=""
fi
echo "lockscope: installing:$need" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null || { echo "lockscope: apt-get update failed" >&2; exit 1; }
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $need >/dev/null || {
    echo "lockscope: apt-get install failed:$need" >&2; exit 1; }
