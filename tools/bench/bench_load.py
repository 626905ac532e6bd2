"""Benchmark: many agent turns at once on real processes (issue 11).

Temporal's dev server, one stigmer-server, one agent-runner and a paced OpenAI-protocol
fake; a lone turn, then N turns at once, each in a session of its own. Prints the figures
as a table and writes docs/benchmarks/load.md. `--profile` also records py-spy profiles of
the server and the runner during the burst (under .bench/load/, gitignored).
"""

from __future__ import annotations

import argparse
import asyncio
import shlex
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from loadbench import (
    Context,
    Options,
    Settings,
    load_average,
    machine,
    run,
    start_topology,
    write,
)

ROOT = Path(__file__).resolve().parents[2]


def _arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--turns", type=int, default=50, help="turns at once (default 50)")
    parser.add_argument(
        "--tokens", type=int, default=100, help="tokens in each reply (default 100)"
    )
    parser.add_argument(
        "--chunk-delay-ms", type=float, default=40.0, help="pace of the fake (default 40)"
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        default=None,
        help="the runner's MAX_CONCURRENT_TURNS (default: --turns)",
    )
    parser.add_argument(
        "--watchers", type=int, default=10, help="burst turns with a subscribe watcher"
    )
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--profile", action="store_true", help="py-spy the server and runner")
    parser.add_argument(
        "--tracing",
        action="store_true",
        help="server and runner export spans (OTLP) to a receiver in the bench",
    )
    parser.add_argument("--profile-dir", type=Path, default=ROOT / ".bench" / "load")
    parser.add_argument("--top", type=int, default=12, help="hot spots listed per profile")
    parser.add_argument(
        "--out", type=Path, default=ROOT / "docs" / "benchmarks" / "load.md", help="the report"
    )
    return parser.parse_args(argv)


async def _main(args: argparse.Namespace) -> int:
    concurrency = args.concurrency or args.turns
    settings = Settings(
        turns=args.turns,
        watchers=min(args.watchers, args.turns),
        tokens=args.tokens,
        profile_dir=args.profile_dir if args.profile else None,
        top=args.top,
    )
    load_before = load_average()
    with tempfile.TemporaryDirectory(prefix="stigmer-bench-") as work:
        options = Options(
            args.db, concurrency, args.chunk_delay_ms / 1000, Path(work), tracing=args.tracing
        )
        async with start_topology(options) as topology:
            results = await run(topology, settings)
    context = Context(
        date=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        machine=machine(),
        command=shlex.join(["python", "tools/bench/bench_load.py", *sys.argv[1:]]),
        load_before=load_before,
        load_after=load_average(),
        db=args.db,
        concurrency=concurrency,
        tokens=args.tokens,
        chunk_delay=args.chunk_delay_ms / 1000,
        turns=args.turns,
        watchers=settings.watchers,
        tracing=args.tracing,
    )
    print(write(args.out, results, context))
    for profile in results.profiles:
        print(
            f"\n{profile.name}: {profile.samples} samples ({profile.waiting} waiting), "
            f"top by own / total ({profile.path})"
        )
        for spot in profile.by_own:
            print(f"  own {spot.own:6.1%}  total {spot.total:6.1%}  {spot.function}")
        for entry, share in profile.by_entry:
            print(f"  for {share:6.1%}  {entry}")
        for spot in profile.by_total:
            print(f"  total {spot.total:6.1%}  own {spot.own:6.1%}  {spot.function}")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(_main(_arguments(sys.argv[1:]))))
