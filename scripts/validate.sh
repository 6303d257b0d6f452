#!/usr/bin/env bash
# Checks what review would: formatting (swift format lint) and compiler warnings in our own code.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== swift format lint"
swift format lint --strict -r Sources Tests Package.swift

echo "== compiler warnings"
log=$(mktemp)
swift build --build-tests 2>&1 | tee "$log" >/dev/null
if grep -E "^$(pwd)/(Sources|Tests)/.*(warning|error):" "$log"; then
    echo "warnings or errors in our code (above)" >&2
    exit 1
fi
echo "clean"
