#!/usr/bin/env bash
# Runs every benchmark. Each writes its results under docs/benchmarks/, except the runner's
# start-up timing, which prints them for docs/benchmarks/agent-runner-startup.md.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="$ROOT/.venv/bin/python"
shopt -s nullglob
for bench in tools/bench/bench_*.py backend/services/*/bench/bench_*.py backend/services/agent-runner/bench/startup.py; do
  echo "==> $bench"
  "$PY" "$bench"
done
