#!/usr/bin/env bash
# Runs every benchmark; each writes its results under docs/benchmarks/.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="$ROOT/.venv/bin/python"
shopt -s nullglob
for bench in tools/bench/bench_*.py backend/services/*/bench/bench_*.py; do
  echo "==> $bench"
  "$PY" "$bench"
done
