"""A command's output as the model sees it: kept within the cap while it is read, redacted,
formatted the same way by both sandbox backends.

A command can print far more than the cap (a runaway loop, a `cat` of a log): the output is
read incrementally and only the first and the last `limit / 2` bytes of each stream are
kept; the rest is counted and dropped as it arrives, so memory stays bounded whatever the
command prints. Head and tail, not head alone: the beginning says what the command started
doing, the end is where builds, tests and crashes put their verdict (the error, the summary,
the last line before an exit code), which a head-only cut always loses.

Cutting happens before redaction, so a secret may straddle a cut. The kept head then ends
with the first part of a secret and the kept tail starts with the last part of one, neither
of which redaction recognises: those edges are dropped (`Redactor.partial_prefix` and
`partial_suffix`), and nothing of a secret leaves.
"""

from __future__ import annotations

from dataclasses import dataclass

from deepagents.backends.protocol import ExecuteResponse

from agent_runner.environment import Redactor

NO_OUTPUT = "<no output>"
STDERR_PREFIX = "[stderr] "


class CappedStream:
    """One stream (stdout or stderr): the first and last bytes kept, the middle counted."""

    def __init__(self, limit: int) -> None:
        self._tail_limit = limit // 2
        self._head_limit = limit - self._tail_limit
        self._head = bytearray()
        self._tail = bytearray()
        self.total = 0

    def feed(self, data: bytes) -> None:
        self.total += len(data)
        room = self._head_limit - len(self._head)
        if room > 0:
            self._head += data[:room]
            data = data[room:]
        if data:
            self._tail += data[-self._tail_limit :] if self._tail_limit else b""
            excess = len(self._tail) - self._tail_limit
            if excess > 0:
                del self._tail[:excess]

    @property
    def omitted(self) -> int:
        return self.total - len(self._head) - len(self._tail)

    @property
    def kept(self) -> int:
        return len(self._head) + len(self._tail)

    def text(self, redact: Redactor, limit: int | None = None) -> str:
        """The kept output (within `limit` bytes when given, which may be less than what was
        kept), redacted; a marker says how much of the middle was dropped."""
        head, tail = bytes(self._head), bytes(self._tail)
        if not self.omitted:
            head, tail = head + tail, b""
        if limit is not None and len(head) + len(tail) > limit:
            # The head is a prefix of the stream and the tail (or, with nothing omitted yet,
            # the head itself) ends it, so a smaller cut is taken from them.
            end = tail or head
            head, tail = head[: limit - limit // 2], end[len(end) - limit // 2 :]
        omitted = self.total - len(head) - len(tail)
        if not omitted:
            return redact((head + tail).decode("utf-8", errors="replace"))
        first = redact(_without_split_end(head).decode("utf-8", errors="replace"))
        first = first[: len(first) - redact.partial_prefix(first)]
        last = redact(_without_split_start(tail).decode("utf-8", errors="replace"))
        last = last[redact.partial_suffix(last) :]
        return f"{first}\n\n... [{omitted} bytes of output omitted] ...\n\n{last}"


# A cut may split a UTF-8 character: its pieces at the cut are dropped rather than shown as
# replacement characters (what is not UTF-8 elsewhere is still replaced, as for whole output).
def _is_continuation(byte: int) -> bool:
    return byte & 0xC0 == 0x80


def _without_split_start(data: bytes) -> bytes:
    skip = 0
    while skip < min(3, len(data)) and _is_continuation(data[skip]):
        skip += 1
    return data[skip:]


def _without_split_end(data: bytes) -> bytes:
    for back in range(1, min(4, len(data)) + 1):
        lead = data[-back]
        if _is_continuation(lead):
            continue
        size = (
            2
            if lead >> 5 == 0b110
            else 3
            if lead >> 4 == 0b1110
            else 4
            if lead >> 3 == 0b11110
            else 1
        )
        return data[:-back] if size > back else data
    return data


@dataclass(frozen=True)
class CapturedOutput:
    stdout: CappedStream
    stderr: CappedStream

    @classmethod
    def empty(cls, limit: int) -> CapturedOutput:
        return cls(stdout=CappedStream(limit), stderr=CappedStream(limit))

    @classmethod
    def of(cls, stdout: str, stderr: str, limit: int) -> CapturedOutput:
        """Output that arrived whole (Daytona's logs), kept the same way."""
        captured = cls.empty(limit)
        captured.stdout.feed(stdout.encode("utf-8"))
        captured.stderr.feed(stderr.encode("utf-8"))
        return captured

    @property
    def truncated(self) -> bool:
        return bool(self.stdout.omitted or self.stderr.omitted)


def format_output(
    captured: CapturedOutput, exit_code: int | None, *, redact: Redactor, max_bytes: int
) -> ExecuteResponse:
    """stdout, then stderr line by line with a `[stderr] ` prefix, then a non-zero exit code;
    redacted, and within `max_bytes` of output (plus the short markers) for both streams."""
    out_limit, err_limit = _budgets(captured.stdout.kept, captured.stderr.kept, max_bytes)
    parts = []
    out = captured.stdout.text(redact, out_limit)
    err = captured.stderr.text(redact, err_limit).strip()
    if out:
        parts.append(out)
    if err:
        parts.extend(f"{STDERR_PREFIX}{line}" for line in err.split("\n"))
    output = "\n".join(parts) if parts else NO_OUTPUT
    truncated = captured.stdout.total + captured.stderr.total > out_limit + err_limit
    if exit_code not in (0, None):
        output = f"{output.rstrip()}\n\nExit code: {exit_code}"
    return ExecuteResponse(output=output, exit_code=exit_code, truncated=truncated)


def _budgets(out: int, err: int, total: int) -> tuple[int, int]:
    """How many bytes of stdout and stderr to show: all of both when they fit, else a stream
    smaller than half keeps all of it and the other gets the rest, else half each."""
    if out + err <= total:
        return out, err
    half = total // 2
    if err <= half:
        return total - err, err
    if out <= half:
        return out, total - out
    return total - half, half
