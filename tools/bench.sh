#!/usr/bin/env bash
# Runs every benchmark. Each writes its results under docs/benchmarks/, except the runner's
# start-up timing, which prints them for docs/benchmarks/agent-runner-startup.md.
# `tools/bench.sh NAME [ARGS...]` runs only the benchmarks whose path contains NAME, with
# ARGS (e.g. `tools/bench.sh bench_load --turns 20 --profile`).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="$ROOT/.venv/bin/python"
ONLY="${1:-}"
shift || true
shopt -s nullglob
for bench in tools/bench/bench_*.py backend/services/*/bench/bench_*.py backend/services/agent-runner/bench/startup.py; do
  [[ -z "$ONLY" || "$bench" == *"$ONLY"* ]] || continue
  echo "==> $bench"
  "$PY" "$bench" "$@"
done
