"""Token-to-watcher latency: when the fake sent each text chunk of a turn, and when a
`subscribe` watcher of that turn first showed the text that far.

Every turn's message carries a marker (`bench turn <key>`) that the fake sees in each model
request, so a chunk is attributed to its turn. The reply text is made of words that cannot
begin the provider key (`w0 w1 ...`; the key starts `sk-`), so the runner holds none of it
back as a possible secret.
"""

from __future__ import annotations

import bisect
import json
import re
import threading
import time
from dataclasses import dataclass, field

import grpc

from ai.stigmer.agentic.agentexecution.v1.api_pb2 import AgentExecution
from ai.stigmer.agentic.agentexecution.v1.enum_pb2 import MessageType
from ai.stigmer.agentic.agentexecution.v1.io_pb2 import SubscribeAgentExecutionRequest
from loadbench._api import Api
from stigmer_status import LiveExecution
from stigmer_testing.fakes import RecordedRequest

_MARKER = re.compile(rb"bench turn ([A-Za-z0-9]+)")
_PREFIX = b"data: "


def reply_text(tokens: int) -> str:
    return " ".join(f"w{index}" for index in range(tokens))


def turn_message(key: str) -> str:
    return f"bench turn {key}: run the command, then answer."


class ChunkClock:
    """The fake's part listener: per turn, (text length so far, monotonic send time) for
    every part that carried text."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sent: dict[str, list[tuple[int, float]]] = {}
        self._parts: dict[str, tuple[float, float]] = {}  # first and last part, wall clock

    def __call__(self, request: RecordedRequest, part: bytes) -> None:
        at, wall = time.monotonic(), time.time()
        marker = _MARKER.search(request.body)
        if marker is None:
            return
        key = marker.group(1).decode()
        piece = _text_of(part)
        with self._lock:
            first, _ = self._parts.get(key, (wall, wall))
            self._parts[key] = (first, wall)
            if not piece:
                return
            sent = self._sent.setdefault(key, [])
            length = sent[-1][0] if sent else 0
            sent.append((length + len(piece), at))

    def stream_seconds(self, prefix: str) -> list[float]:
        """Per turn whose key starts with `prefix`, from the first text chunk sent to the
        last: whether the fake kept its pace (a slow reader stalls it once the socket
        buffers fill)."""
        with self._lock:
            return [
                s[-1][1] - s[0][1]
                for key, s in self._sent.items()
                if key.startswith(prefix) and len(s) > 1
            ]

    def parts(self, key: str) -> tuple[float, float] | None:
        """Wall-clock times of the first part of the turn's first model reply and of the
        last part of its last one."""
        with self._lock:
            return self._parts.get(key)

    def sent(self, key: str) -> list[tuple[int, float]]:
        with self._lock:
            return list(self._sent.get(key, ()))


def _text_of(part: bytes) -> str:
    if not part.startswith(_PREFIX) or part.startswith(b"data: [DONE]"):
        return ""
    chunk = json.loads(part[len(_PREFIX) :])
    choices = chunk.get("choices") or []
    if not choices:
        return ""
    content = choices[0].get("delta", {}).get("content")
    return content if isinstance(content, str) else ""


@dataclass
class Sightings:
    """What one watcher saw: (text length, monotonic time) each time the length grew, in
    the view with previews (what a client shows) and in the stored copy alone."""

    shown: list[tuple[int, float]] = field(default_factory=list)
    stored: list[tuple[int, float]] = field(default_factory=list)


def _reply_length(execution: AgentExecution | None) -> int:
    if execution is None:
        return 0
    return sum(
        len(m.content)
        for m in execution.status.messages
        if m.type == MessageType.MESSAGE_AI and m.content.startswith("w0")
    )


async def watch(api: Api, execution_id: str) -> Sightings:
    """Subscribe from the start until the stream ends (the turn reached a final phase)."""
    live = LiveExecution()
    seen = Sightings()
    request = SubscribeAgentExecutionRequest(execution_id=execution_id)
    stream = api.queries.subscribe(request, metadata=api.metadata)
    try:
        async for event in stream:
            at = time.monotonic()
            live.apply(event)
            for series, execution in ((seen.shown, live.view()), (seen.stored, live.execution)):
                length = _reply_length(execution)
                if length > (series[-1][0] if series else 0):
                    series.append((length, at))
    except grpc.aio.AioRpcError as error:
        if error.code() != grpc.StatusCode.CANCELLED:
            raise
    return seen


def latencies(sent: list[tuple[int, float]], seen: list[tuple[int, float]]) -> list[float]:
    """Seconds from each chunk's send to the first sighting of the text that long."""
    lengths = [length for length, _ in seen]
    found = []
    for length, at in sent:
        index = bisect.bisect_left(lengths, length)
        if index < len(seen):
            found.append(seen[index][1] - at)
    return found
