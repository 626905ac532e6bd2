"""The load benchmark's pure parts: chunk attribution, latency matching, profile summary."""

from __future__ import annotations

import json
from pathlib import Path

from loadbench._profile import summarize
from loadbench._report import percentile
from loadbench._tokens import ChunkClock, latencies, reply_text, turn_message

from stigmer_testing.fakes import RecordedRequest


def _request(key: str) -> RecordedRequest:
    body = {"messages": [{"role": "user", "content": turn_message(key)}]}
    return RecordedRequest("POST", "/v1/chat/completions", {}, {}, json.dumps(body).encode())


def _part(content: str | None) -> bytes:
    delta = {} if content is None else {"content": content}
    chunk = {"choices": [{"index": 0, "delta": delta, "finish_reason": None}]}
    return f"data: {json.dumps(chunk)}\n\n".encode()


def test_the_chunk_clock_counts_text_per_turn_and_skips_parts_without_text() -> None:
    clock = ChunkClock()
    for key, piece in [("B1", "w0 "), ("B2", "w0 "), ("B1", None), ("B1", "w1")]:
        clock(_request(key), _part(piece))
    clock(_request("B1"), b"data: [DONE]\n\n")

    assert [length for length, _ in clock.sent("B1")] == [3, 5]
    assert [length for length, _ in clock.sent("B2")] == [3]
    assert clock.sent("B3") == []


def test_each_chunk_is_matched_with_the_first_sighting_at_least_that_long() -> None:
    sent = [(3, 10.0), (6, 10.1), (9, 10.2)]
    seen = [(6, 10.15), (9, 10.4)]

    assert latencies(sent, seen) == [
        10.15 - 10.0,
        10.15 - 10.1,
        10.4 - 10.2,
    ]
    assert latencies(sent, []) == []


def test_the_reply_is_words_that_cannot_begin_a_secret() -> None:
    assert reply_text(3) == "w0 w1 w2"


def test_percentiles() -> None:
    assert percentile([1.0], 95) == 1.0
    assert percentile([float(v) for v in range(1, 101)], 50) == 50.5


def test_a_profile_summary_leaves_waits_out_and_aggregates_by_function(tmp_path: Path) -> None:
    raw = tmp_path / "server.txt"
    raw.write_text(
        "\n".join(
            [
                "run (asyncio/runners.py:118);EpollSelector.select (selectors.py:468) 50",
                "run (asyncio/runners.py:118);handle (app/api.py:10);merge (app/merge.py:5) 30",
                "run (asyncio/runners.py:118);handle (app/api.py:12);merge (app/merge.py:7) 10",
                "run (asyncio/runners.py:118);handle (app/api.py:14) 10",
            ]
        )
    )

    profile = summarize("server", raw, top=5)

    assert (profile.samples, profile.waiting) == (100, 50)
    own = {spot.function: (spot.own, spot.total) for spot in profile.by_own}
    assert own["merge (app/merge.py)"] == (0.8, 0.8)
    assert own["handle (app/api.py)"] == (0.2, 1.0)
    # The event loop every stack passes through is not listed by total.
    assert [spot.function for spot in profile.by_total] == [
        "handle (app/api.py)",
        "merge (app/merge.py)",
    ]
    assert profile.by_entry == (
        ("handle (app/api.py) > merge (app/merge.py)", 0.8),
        ("handle (app/api.py)", 0.2),
    )
