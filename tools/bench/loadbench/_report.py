"""The results as the issue's table (figure | measured | target) and docs/benchmarks/load.md.

The file's "## Profile" section is rewritten only by a run with --profile, and its
"## Reading" section (written by hand) is kept, so a plain run refreshes the figures
without dropping what a profiled run found.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from pathlib import Path

from loadbench._burst import Results, Turn
from loadbench._profile import Profile

_PROFILE = "## Profile"
_READING = "## Reading"


@dataclass(frozen=True)
class Context:
    date: str
    machine: str
    command: str
    load_before: str
    load_after: str
    db: str
    concurrency: int
    tokens: int
    chunk_delay: float
    turns: int
    watchers: int
    tracing: bool = False


_TRACING_ON = "on (the server and the runner export spans to an OTLP receiver in the bench)"
_TRACING_OFF = "off (no OTEL_* settings: the default)"


def percentile(values: list[float], pct: int) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[pct - 1]


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def _completed(turns: list[Turn]) -> list[Turn]:
    return [t for t in turns if t.phase == "EXECUTION_COMPLETED"]


def _phases(turns: list[Turn]) -> str:
    """create -> runner took it -> first model reply part -> last one -> completed_at."""
    spans: list[list[float]] = [[], [], [], []]
    for turn in turns:
        if not turn.started or turn.model is None:
            continue
        marks = [turn.created.began, turn.started, *turn.model, turn.ended]
        for index in range(4):
            spans[index].append(marks[index + 1] - marks[index])
    if not spans[0]:
        return "n/a"
    names = ("to runner start", "to first model reply", "model and tool", "to completed")
    return ", ".join(
        f"{name} {percentile(values, 50):.2f} s" for name, values in zip(names, spans, strict=True)
    )


def rows(results: Results, ctx: Context) -> list[tuple[str, str, str]]:
    burst = results.burst
    times = [t.seconds for t in burst]
    lone = results.lone.seconds
    p50, p95 = percentile(times, 50), percentile(times, 95)
    span = max(t.ended for t in burst) - min(t.created.began for t in burst)
    sessions = [t.created.session_seconds for t in burst]
    executions = [t.created.execution_seconds for t in burst]
    pairs = [t.created.session_seconds + t.created.execution_seconds for t in burst]
    creating = max(t.created.began + t.created.session_seconds + t.created.execution_seconds
                   for t in burst) - min(t.created.began for t in burst)  # fmt: skip
    n = len(burst)
    u = results.usage
    db_bytes = u["database"].write_bytes
    db_label = "server write_bytes less its log" if ctx.db == "sqlite" else "PostgreSQL"
    if ctx.db == "sqlite":
        db_bytes -= results.server_log_bytes
    final = statistics.median(t.status_bytes for t in burst)
    changes = statistics.median(t.changes for t in burst)
    shown, stored = results.burst_tokens
    lone_shown, lone_stored = results.lone_tokens
    failed = n - len(_completed(burst))
    paced = (ctx.tokens - 1) * ctx.chunk_delay
    streams = results.burst_streams
    return [
        ("lone turn, create to completed", f"{lone:.2f} s", "(reference)"),
        (f"{n} turns at once: p95 turn time / lone",
         f"{p95 / lone:.1f}x (p50 {p50:.2f} s, p95 {p95:.2f} s)", "<= 2x"),
        ("throughput", f"{n / span:.2f} turns/s ({n} in {span:.1f} s)", ">= 5 turns/s"),
        ("create latency p50 / p95: session + execution",
         f"{_ms(percentile(pairs, 50))} / {_ms(percentile(pairs, 95))}", "p50 <= 20 ms"),
        ("  session create p50 / p95",
         f"{_ms(percentile(sessions, 50))} / {_ms(percentile(sessions, 95))}", ""),
        ("  execution create p50 / p95",
         f"{_ms(percentile(executions, 50))} / {_ms(percentile(executions, 95))}", ""),
        (f"creating the {n} sessions + executions", f"{creating:.1f} s", ""),
        ("server CPU per turn", f"{u['server'].cpu_seconds / n:.3f} s", "<= 0.08 s"),
        ("runner CPU per turn (sandbox commands included)",
         f"{u['runner'].cpu_seconds / n:.3f} s", "<= 0.10 s"),
        ("Temporal dev server CPU per turn", f"{u['temporal'].cpu_seconds / n:.3f} s",
         "(not ours; report it)"),
        *([("PostgreSQL CPU per turn (postmaster and backends)",
            f"{u['database'].cpu_seconds / n:.3f} s", "")] if ctx.db == "postgres" else []),
        (f"database bytes written per turn ({db_label})",
         f"{db_bytes / n / 1024:.0f} KiB ({db_bytes / n / final:.1f}x the final status, "
         f"{final / 1024:.1f} KiB; {db_bytes / n / changes / 1024:.1f} KiB for each of "
         f"{changes:.0f} stored changes)", "(pages, for reference)"),
        ("database payload written per turn (rows: resources and status-log entries)",
         f"{results.payload_bytes / n / 1024:.1f} KiB ({results.payload_bytes / n / final:.1f}x "
         "the final status)", "<= 3x final status (500-chunk turn)"),
        (f"token to watcher (`subscribe`, previews shown), p50 / p99, {len(shown)} chunks",
         f"{_ms(percentile(shown, 50))} / {_ms(percentile(shown, 99))}", "<= 50 / 150 ms"),
        ("  the same, stored deltas only",
         f"{_ms(percentile(stored, 50))} / {_ms(percentile(stored, 99))}", ""),
        ("  lone turn: previews / stored, p50 / p99",
         f"{_ms(percentile(lone_shown, 50))} / {_ms(percentile(lone_shown, 99))}; "
         f"{_ms(percentile(lone_stored, 50))} / {_ms(percentile(lone_stored, 99))}", ""),
        (f"the fake's text stream per turn, p50 / max (paced: {paced:.2f} s)",
         f"{percentile(streams, 50):.2f} s / {max(streams, default=float('nan')):.2f} s",
         ""),
        ("where a turn's time goes, lone", _phases([results.lone]), ""),
        (f"where a turn's time goes, {n} at once (p50 of each)", _phases(burst), ""),
        ("turns not completed", str(failed), "0"),
    ]  # fmt: skip


def table(results: Results, ctx: Context) -> str:
    lines = ["| figure | measured | target |", "|---|---|---|"]
    lines += [f"| {f} | {m} | {t} |" for f, m, t in rows(results, ctx)]
    return "\n".join(lines)


def _shown(path: Path) -> Path:
    """`path` relative to the working directory (the repository root under make bench)."""
    try:
        return path.resolve().relative_to(Path.cwd())
    except ValueError:
        return path


def profile_section(profiles: list[Profile], ctx: Context) -> str:
    lines = [
        _PROFILE,
        "",
        f"py-spy, 100 samples/s, during the burst of the {ctx.date} run, by function; "
        "shares of the busy samples: idle threads are not sampled, and samples of a thread "
        "waiting for work (the event loop's select, aiosqlite's and thread pools' queue "
        "waits) are counted apart. By total, frames every stack passes through (event loop, "
        "thread start, entry point) are left out. Collapsed stacks: "
        + ", ".join(f"`{_shown(p.path)}`" for p in profiles) + ".",
    ]  # fmt: skip
    for profile in profiles:
        lines += [
            "",
            f"{profile.name}, by what the samples were for (the first two frames below the "
            "event loop or thread start):",
            "",
            "| entry | share |",
            "|---|---:|",
        ]
        lines += [f"| `{entry}` | {share:.1%} |" for entry, share in profile.by_entry]
        for title, spots in (("own", profile.by_own), ("total", profile.by_total)):
            lines += [
                "",
                f"{profile.name}, by {title} samples ({profile.samples} samples, "
                f"{profile.waiting} of them waiting):",
                "",
                "| function | own | total |",
                "|---|---:|---:|",
            ]
            lines += [f"| `{s.function}` | {s.own:.1%} | {s.total:.1%} |" for s in spots]
    return "\n".join(lines)


def write(path: Path, results: Results, ctx: Context) -> str:
    """Writes the file; returns the table for the terminal."""
    old = path.read_text() if path.exists() else ""
    profile = _section(old, _PROFILE, _READING)
    if results.profiles:
        profile = profile_section(results.profiles, ctx)
    reading = _section(old, _READING, None)
    u = results.usage
    n = len(results.burst)
    ours = sum(u[role].cpu_seconds for role in ("server", "runner", "temporal", "bench"))
    if ctx.db == "postgres":
        ours += u["database"].cpu_seconds
    profiler = sum(p.cpu_seconds for p in results.profiles)
    body = [
        "# Load: many turns at once",
        "",
        "`tools/bench/bench_load.py` (run by `make bench`): Temporal's dev server, one",
        f"stigmer-server ({ctx.db}), one agent-runner (MAX_CONCURRENT_TURNS={ctx.concurrency})",
        "and a paced OpenAI-protocol fake as real processes; each turn in a session of its own",
        f"makes one `execute` call, then streams {ctx.tokens} tokens {ctx.chunk_delay * 1000:.0f} "
        "ms apart.",
        "",
        f"- date: {ctx.date}",
        f"- machine: {ctx.machine}",
        f"- command: `{ctx.command}`",
        f"- tracing: {_TRACING_ON if ctx.tracing else _TRACING_OFF}",
        f"- load average (1, 5, 15 min): {ctx.load_before} before; {ctx.load_after} after",
        f"- warm-up turn (not counted): {results.warmup.seconds:.2f} s; watched turns: the lone "
        f"one and {ctx.watchers} of the burst",
        f"- the bench process itself used {u['bench'].cpu_seconds / n:.3f} s CPU per turn "
        "(fake, watchers, clients)",
        f"- during the burst the machine's CPUs were busy {results.machine_busy:.1f} s in all, "
        f"of which the server, runner, Temporal and bench processes used {ours:.1f} s"
        + (f" and py-spy {profiler:.1f} s" if results.profiles else "")
        + " (the rest: other work on this shared machine)",
        "",
        table(results, ctx),
        "",
        "How each figure is taken:",
        "",
        "- turn time: from the client's first create RPC (session) to the `completed_at` the",
        "  stored status carries (stamped when the turn ended), both wall clock on this machine;",
        "  the client waits on the turn's Temporal workflow, so waiting costs the server nothing.",
        "- throughput: turns over the span from the first create to the last completion.",
        "- create latency: each create RPC's round trip, timed by the client, all N issued at",
        "  once.",
        "- CPU: utime + stime from /proc/<pid>/stat over the burst, plus the children the",
        "  process reaped (the runner's sandbox commands).",
        "- database bytes: /proc/<pid>/io write_bytes over the burst (pages dirtied for the",
        "  disk; a page rewritten before writeback counts once): the server's, less its log",
        "  file's growth, for SQLite (database file and WAL); PostgreSQL's processes' with",
        "  `--db postgres` (there mostly WAL: table pages wait in shared buffers for a",
        "  checkpoint). The final status size is the median serialized stored status.",
        "- database payload: the server's `stigmer_db_payload_bytes_written` counter (its",
        "  /metrics) over the burst: the bytes of rows the server wrote, what the <= 3x",
        "  target is about; page writes above include SQLite's page and WAL overhead.",
        "- token to watcher: the fake notes when each text chunk left it; a `subscribe`",
        "  watcher notes when the reply text it shows first reached that length, with the",
        "  previews applied (what a client shows) and in the stored copy alone.",
        "- where a turn's time goes: create to the status's `started_at` (the runner took the",
        "  turn), to the first part of the fake's first reply, to the last part of its last",
        "  reply (the tool call runs in between), to `completed_at`.",
        "",
    ]
    text = "\n".join(body) + "\n" + (profile.rstrip() + "\n\n" if profile else "")
    text += reading.rstrip() + "\n" if reading else ""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return table(results, ctx)


def _section(text: str, start: str, end: str | None) -> str:
    if start not in text:
        return ""
    section = text[text.index(start) :]
    if end is not None and end in section:
        section = section[: section.index(end)]
    return section
