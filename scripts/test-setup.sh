#!/usr/bin/env bash
# Makes sure the tests have what they need, on a fresh Debian machine with only the Swift
# toolchain: Debian packages (installed when running as root, else named in one line) and the
# Python tools, in a virtual environment under .build/ (never the system pip).
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
for tool in /usr/sbin/mariadbd /usr/bin/mariadb-install-db /usr/bin/mariadb; do
    [ -x "$tool" ] || { missing+=(mariadb-server); break; }
done
/sbin/ldconfig -p 2>/dev/null | grep -q 'libmariadb\.so\.3' || missing+=(libmariadb3)
command -v chromium >/dev/null || missing+=(chromium)
command -v kubectl >/dev/null || missing+=(kubectl)
# promtool checks the alerting rules under deploy/monitoring/.
command -v promtool >/dev/null || missing+=(prometheus)
[ -x /usr/bin/openssl ] || missing+=(openssl)
[ -x /usr/bin/setpriv ] || missing+=(util-linux)
command -v make >/dev/null || missing+=(make)
# --compress links zlib (compress-nio); the Swift toolchain's own install instructions list it.
[ -e /usr/include/zlib.h ] || missing+=(zlib1g-dev)
# deploy/generate.py reads TOML with tomllib (Python 3.11+); the venv module makes the tools' environment.
if ! python3 -c 'import sys, venv, ensurepip; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
    missing+=(python3 python3-venv)
fi

if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "test-setup: installing ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq "${missing[@]}" >/dev/null
    else
        echo "test-setup: the tests need ${missing[*]}: run 'sudo apt-get install -y ${missing[*]}' (or run make test as root)" >&2
        exit 1
    fi
fi

venv=.build/test-venv
if ! "$venv/bin/python3" -c 'import websocket, kubernetes_validate' 2>/dev/null; then
    echo "test-setup: creating $venv with websocket-client and kubernetes-validate"
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/python3" -m pip install -q --disable-pip-version-check websocket-client kubernetes-validate
fi
