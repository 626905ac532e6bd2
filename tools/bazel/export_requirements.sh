#!/usr/bin/env bash
# Exports uv.lock into tools/bazel/requirements.lock, the hash-pinned lock Bazel's hermetic
# Python environment is built from (`make bazel-lock`), or checks that the committed export
# equals a fresh one (`--check`, `make bazel-lock-check`).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
LOCK="tools/bazel/requirements.lock"
cd "$ROOT"

if [ -x "$ROOT/.tools/bin/uv" ]; then UV="$ROOT/.tools/bin/uv"
elif command -v uv >/dev/null 2>&1; then UV="$(command -v uv)"
else echo "export_requirements: uv is missing: run 'make setup'" >&2; exit 1
fi

# Every third-party package of every workspace member and the dev group (setuptools for
# grpcio-tools included), without the members themselves: Bazel builds those from source.
export_to() {
  {
    echo "# Generated from uv.lock by tools/bazel/export_requirements.sh (make bazel-lock). Do not edit."
    "$UV" export --quiet --frozen --all-packages --format requirements-txt \
      --no-emit-workspace --no-header
  } >"$1"
}

case "${1:-}" in
  "")
    export_to "$LOCK"
    echo "export_requirements: wrote $LOCK"
    ;;
  --check)
    tmp="$(mktemp)"
    trap 'rm -f "$tmp"' EXIT
    export_to "$tmp"
    if ! diff -u "$LOCK" "$tmp" >&2; then
      echo "bazel-lock-check: $LOCK disagrees with uv.lock: run 'make bazel-lock' and commit the result" >&2
      exit 1
    fi
    echo "bazel-lock-check: $LOCK agrees with uv.lock"
    ;;
  *) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac
