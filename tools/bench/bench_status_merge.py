"""Benchmark: the cost of streaming AI text through the status merge.

The status model sends streamed text as `append` deltas so a turn's bytes and merge work
grow linearly with its length. This measures merging N chunk deltas into a stored status
(what the server does per updateStatus and a client per subscribe event) and compares it
with the alternative the model avoids: resending the whole text on every chunk.
Writes docs/benchmarks/status-merge.md.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

from ai.stigmer.agentic.agentexecution.v1.enum_pb2 import MessageType
from ai.stigmer.agentic.agentexecution.v1.status_pb2 import AgentExecutionStatus, AgentMessage
from stigmer_status import apply_delta

CHUNK = "token " * 4
REPEATS = 7


def _stream(chunks: int, append: bool) -> tuple[float, int]:
    """Seconds to merge `chunks` deltas, and the bytes those deltas carried."""
    stored = AgentExecutionStatus()
    text = ""
    sent = 0
    started = time.perf_counter()
    for _ in range(chunks):
        text += CHUNK
        content = CHUNK if append else text
        delta = AgentExecutionStatus(
            messages=[
                AgentMessage(id="m1", type=MessageType.MESSAGE_AI, content=content, append=append)
            ]
        )
        sent += delta.ByteSize()
        apply_delta(stored, delta)
    elapsed = time.perf_counter() - started
    assert stored.messages[0].content == text
    return elapsed, sent


def main() -> int:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("docs/benchmarks/status-merge.md")
    rows = []
    for chunks in (500, 2000, 8000):
        for append in (True, False):
            times = []
            sent = 0
            for _ in range(REPEATS):
                elapsed, sent = _stream(chunks, append)
                times.append(elapsed)
            median = statistics.median(times)
            rows.append((chunks, append, median, sent))
    lines = [
        "# Status merge: streaming text",
        "",
        "`tools/bench/bench_status_merge.py` (run by `make bench`): merge N streamed chunks of",
        f"{len(CHUNK)} bytes into one AI message, median of {REPEATS} runs on this machine",
        "(2 shared cores; absolute times are noisy, the ratios are the point).",
        "",
        "| chunks | delta kind | median total | per chunk | bytes sent |",
        "|---:|---|---:|---:|---:|",
    ]
    for chunks, append, median, sent in rows:
        kind = "append (used)" if append else "whole text (avoided)"
        lines.append(
            f"| {chunks} | {kind} | {median * 1000:.1f} ms | {median / chunks * 1e6:.1f} us "
            f"| {sent:,} |"
        )
    by_key = {(c, a): (m, s) for c, a, m, s in rows}
    growth_append = by_key[(8000, True)][0] / by_key[(500, True)][0]
    growth_whole = by_key[(8000, False)][0] / by_key[(500, False)][0]
    lines += [
        "",
        f"16x more chunks cost {growth_append:.1f}x the time with append deltas "
        f"(linear would be 16x) and {growth_whole:.1f}x when the whole text is resent; "
        f"bytes sent grow {by_key[(8000, True)][1] / by_key[(500, True)][1]:.0f}x versus "
        f"{by_key[(8000, False)][1] / by_key[(500, False)][1]:.0f}x.",
        "",
        "Reading: what append deltas buy is on the wire and in memory: bytes sent grow",
        "linearly with the text. The merge's CPU still grows faster than linearly, because a",
        "protobuf string field is immutable and `content += chunk` copies the stored text;",
        "at these sizes that stays well under a millisecond per chunk, and the runner batches",
        "chunks (10 events / 250 ms) so the server merges far fewer deltas than chunks.",
        "",
    ]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
