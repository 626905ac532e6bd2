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
# The console's TypeScript stubs (protoc-gen-es from its locked node_modules).
TS_TEMPLATE=client-apps/console/buf.gen.yaml
TS_STUBS=client-apps/console/src/gen
TS_PLUGIN=client-apps/console/node_modules/.bin/protoc-gen-es
[ -x "$TS_PLUGIN" ] || { echo "protos: $TS_PLUGIN is missing: run 'make setup'" >&2; exit 1; }

# The files buf.gen.yaml's plugins write, relative to $1, sorted. Only these are compared:
# whatever else lives in the tree (py.typed, the __pycache__ folders that importing the
# stubs leaves behind) is not generated and says nothing about staleness.
generated_files() {
  (cd "$1" && find . -name __pycache__ -prune -o -type f \
    \( -name '*_pb2.py' -o -name '*_pb2.pyi' -o -name '*_pb2_grpc.py' -o -name '*_pb2_grpc.pyi' \) \
    -print | LC_ALL=C sort)
}

case "${1:-generate}" in
  generate)
    generated_files "$STUBS/ai" | (cd "$STUBS/ai" && xargs -r rm -f)
    "$BUF" generate
    rm -rf "$TS_STUBS"
    "$BUF" generate --template "$TS_TEMPLATE"
    echo "protos: regenerated $STUBS and $TS_STUBS"
    ;;
  check)
    tmp="$(mktemp -d)"
    trap 'rm -rf "$tmp"' EXIT
    "$BUF" generate -o "$tmp"
    fresh="$tmp/$STUBS/ai"
    stale=0
    # Missing or left-over files first (a proto added or deleted without `make protos`).
    if ! diff <(generated_files "$fresh") <(generated_files "$STUBS/ai") >"$tmp/names.txt"; then
      sed -n 's/^< \.\//  missing: /p; s/^> \.\//  not generated from any proto: /p' \
        "$tmp/names.txt" >&2
      stale=1
    fi
    while IFS= read -r file; do
      if [ -f "$STUBS/ai/$file" ] && ! cmp -s "$fresh/$file" "$STUBS/ai/$file"; then
        echo "  differs: ${file#./}" >&2
        stale=1
      fi
    done < <(generated_files "$fresh")
    "$BUF" generate --template "$TS_TEMPLATE" -o "$tmp"
    if ! diff -r "$tmp/$TS_STUBS" "$TS_STUBS" >"$tmp/ts.txt"; then
      sed -n 's/^Only in /  only in /p; s/^diff .* \(\S*\)$/  differs: \1/p' "$tmp/ts.txt" >&2
      stale=1
    fi
    if [ "$stale" -ne 0 ]; then
      echo "protos-check: the committed stubs in $STUBS/ai or $TS_STUBS are stale: run 'make protos' and commit the result" >&2
      exit 1
    fi
    echo "protos-check: stubs are fresh"
    ;;
  *) echo "usage: $0 [generate|check]" >&2; exit 2 ;;
esac
