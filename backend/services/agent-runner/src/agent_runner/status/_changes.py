"""What changed since the server last acknowledged an update, and how much text it has.

Each change marks its item with a fresh version. A delta records the versions it carried;
acknowledging it clears only marks that did not move since, so a change made while the
update was in flight is sent with the next one. For messages it also tracks how much of the
text the server holds, so the next delta carries only the rest (as `append` content).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass

from ai.stigmer.agentic.agentexecution.v1.status_pb2 import AgentExecutionStatus

Key = tuple[str, str, str]  # (kind, scope, item id)


@dataclass(frozen=True)
class Delta:
    """A delta ready to send, and what `acknowledge` needs once the server has it."""

    status: AgentExecutionStatus
    versions: Mapping[Key, int]
    sent: Mapping[Key, int]


@dataclass(frozen=True)
class TextSlice:
    content: str
    append: bool
    end: int


class ChangeSet:
    def __init__(self) -> None:
        self._versions = itertools.count(1)
        self._marks: dict[Key, int] = {}
        self._sent: dict[Key, int] = {}
        self._replaced: dict[Key, int] = {}
        # Insertion-ordered, so previews list messages in the order they began.
        self._streaming: dict[Key, None] = {}

    def mark(self, key: Key) -> int:
        version = next(self._versions)
        self._marks[key] = version
        return version

    @property
    def pending(self) -> bool:
        return bool(self._marks)

    def snapshot(self) -> dict[Key, int]:
        return dict(self._marks)

    # -- message text -----------------------------------------------------------------------

    def streaming(self, key: Key) -> bool:
        return key in self._streaming

    def streaming_keys(self) -> list[Key]:
        return list(self._streaming)

    def start_streaming(self, key: Key) -> None:
        self._streaming[key] = None

    def stop_streaming(self, key: Key) -> bool:
        """True when the message was streaming (its held-back tail must now go out)."""
        was = key in self._streaming
        self._streaming.pop(key, None)
        return was

    def stop_all_streaming(self) -> list[Key]:
        keys = list(self._streaming)
        self._streaming.clear()
        return keys

    def text_changed(self, key: Key, old: str, new: str) -> None:
        """Text that no longer extends what was sent must be sent whole, not appended."""
        if not new.startswith(old[: self._sent.get(key, 0)]):
            self._replaced[key] = self.mark(key)

    def sent(self, key: Key) -> int:
        """How much of the message's text the server holds."""
        return self._sent.get(key, 0)

    def text_slice(self, key: Key, content: str, releasable: int) -> TextSlice:
        """The text to send: from what the server holds up to `releasable`."""
        end = max(self._sent.get(key, 0), releasable)
        start = 0 if key in self._replaced else self._sent.get(key, 0)
        return TextSlice(content=content[start:end], append=start > 0, end=end)

    # -- acknowledgement --------------------------------------------------------------------

    def acknowledge(self, delta: Delta) -> None:
        for key, version in delta.versions.items():
            if self._marks.get(key) == version:
                del self._marks[key]
            if self._replaced.get(key, -1) <= version:
                self._replaced.pop(key, None)
        for key, end in delta.sent.items():
            self._sent[key] = end
