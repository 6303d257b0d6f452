#!/usr/bin/env bash
# Runs the README's test command as a new user would: in a scratch clone of HEAD, with an
# empty environment and a minimal PATH (the Swift toolchain and the system directories).
# Usage: scripts/check-fresh.sh [command...]   (default: make test)
set -euo pipefail
cd "$(dirname "$0")/.."

swift_bin=$(dirname "$(command -v swift)")
scratch=$(mktemp -d /tmp/ha-sync-fresh.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
git clone -q . "$scratch/ha-sync"
cd "$scratch/ha-sync"
[ $# -gt 0 ] || set -- make test
echo "check-fresh: running '$*' in $scratch/ha-sync with PATH=$swift_bin:/usr/sbin:/usr/bin:/sbin:/bin"
env -i HOME="$HOME" PATH="$swift_bin:/usr/sbin:/usr/bin:/sbin:/bin" "$@"
