"""Command output kept within the cap while it is read: head and tail, redaction safe at the
cuts, one format for both sandbox backends (sandbox/_output.py)."""

from __future__ import annotations

import re

import pytest

from agent_runner.environment import Redactor
from agent_runner.sandbox._output import CappedStream, CapturedOutput, format_output

SECRET = "tok-ABCDEFGH"
MARKER = re.compile(r"\n\n\.\.\. \[\d+ bytes of output omitted\] \.\.\.\n\n")
# The same marker inside stderr, whose lines are prefixed.
ANY_MARKER = re.compile(r"\.\.\. \[\d+ bytes of output omitted\] \.\.\.")


def fed(data: bytes, limit: int, chunk: int) -> CappedStream:
    stream = CappedStream(limit)
    for start in range(0, len(data), chunk):
        stream.feed(data[start : start + chunk])
    return stream


@pytest.mark.parametrize("chunk", [1, 7, 64, 10_000])
def test_the_first_and_last_bytes_are_kept_and_the_middle_counted(chunk: int) -> None:
    data = bytes(range(48, 58)) * 100  # 1000 bytes of digits
    stream = fed(data, limit=101, chunk=chunk)
    assert stream.total == 1000
    assert stream.kept == 101
    assert stream.omitted == 899
    text = stream.text(Redactor([]))
    assert text == (
        data[:51].decode() + "\n\n... [899 bytes of output omitted] ...\n\n" + data[-50:].decode()
    )


def test_output_within_the_cap_is_kept_whole() -> None:
    stream = fed(b"short output\n", limit=100, chunk=3)
    assert stream.omitted == 0
    assert stream.text(Redactor([])) == "short output\n"


@pytest.mark.parametrize("where", range(0, 40))
def test_no_piece_of_a_secret_cut_by_the_head_or_the_tail_leaves(where: int) -> None:
    # The secret moves across both cuts (head ends at byte 20, tail starts 20 bytes before
    # the end); dots never occur in it, so any other character left is a leaked piece.
    data = ("." * where + SECRET + "." * (60 - where)).encode()
    for chunk in (1, 5, 1000):
        text = fed(data, limit=40, chunk=chunk).text(Redactor([SECRET]))
        assert set(MARKER.sub("", text)) <= {".", "*"}, text


@pytest.mark.parametrize("char", ["é", "€", "😀"])
@pytest.mark.parametrize("limit", range(20, 28))
def test_a_utf8_character_split_by_a_cut_is_dropped_not_garbled(char: str, limit: int) -> None:
    data = char.encode() * 100  # 2 to 4 bytes each: most limits split one at a cut
    text = fed(data, limit=limit, chunk=3).text(Redactor([]))
    assert "\ufffd" not in text
    assert set(MARKER.sub("", text)) == {char}


def test_format_shows_stdout_then_prefixed_stderr_then_the_exit_code() -> None:
    captured = CapturedOutput.of(f"out {SECRET}\n", "warn one\nwarn two\n", limit=1000)
    response = format_output(captured, 2, redact=Redactor([SECRET]), max_bytes=1000)
    assert response.output == "out ***\n\n[stderr] warn one\n[stderr] warn two\n\nExit code: 2"
    assert response.exit_code == 2
    assert not response.truncated
    empty = format_output(CapturedOutput.of("", "", 10), 0, redact=Redactor([]), max_bytes=10)
    assert (empty.output, empty.truncated) == ("<no output>", False)


@pytest.mark.parametrize(
    ("out", "err", "shown_out", "shown_err"),
    [
        (5000, 100, 900, 100),  # small stderr shown whole, stdout gets the rest
        (100, 5000, 100, 900),
        (5000, 5000, 500, 500),  # both big: half each
    ],
)
def test_both_streams_together_stay_within_the_cap(
    out: int, err: int, shown_out: int, shown_err: int
) -> None:
    captured = CapturedOutput.of("o" * out, "e" * err, limit=1000)
    response = format_output(captured, 0, redact=Redactor([]), max_bytes=1000)
    assert response.truncated
    visible = ANY_MARKER.sub("", response.output)
    assert visible.count("o") == shown_out
    assert visible.count("e") - visible.count("[stderr]") == shown_err
