"""Makes the benchmarks' `loadbench` package importable in its tests, as bench_load.py
imports it (from its own directory)."""

import sys
from pathlib import Path

_BENCH_DIR = str(Path(__file__).resolve().parent)
if _BENCH_DIR not in sys.path:
    sys.path.insert(0, _BENCH_DIR)
