#!/usr/bin/env bash
# Generates the Python stubs from apis/ with buf (`generate`), or checks that the committed
# stubs equal a fresh generation (`check`).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
BUF="$ROOT/tools/buf/node_modules/.bin/buf"
[ -x "$BUF" ] || { echo "protos: buf is missing: run 'make setup'" >&2; exit 1; }
# The plugins (python -m grpc_tools.protoc, protoc-gen-mypy, our grpc adapter) come from here.
export PATH="$ROOT/.venv/bin:$ROOT/tools/protoc:$PATH"
STUBS=apis/stubs/python

case "${1:-generate}" in
  generate)
    find "$STUBS/ai" -name '*_pb2*.py*' -delete
    "$BUF" generate
    echo "protos: regenerated $STUBS"
    ;;
  check)
    tmp="$(mktemp -d)"
    trap 'rm -rf "$tmp"' EXIT
    "$BUF" generate -o "$tmp"
    if ! diff -r -q -x py.typed "$tmp/$STUBS/ai" "$STUBS/ai" >"$tmp/diff.txt"; then
      cat "$tmp/diff.txt" >&2
      echo "protos-check: the committed stubs in $STUBS are stale: run 'make protos' and commit the result" >&2
      exit 1
    fi
    echo "protos-check: stubs are fresh"
    ;;
  *) echo "usage: $0 [generate|check]" >&2; exit 2 ;;
esac
