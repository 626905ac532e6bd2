"""Message text as it leaves the runner: redacted, and held back where a secret may begin.

Every message's text is kept raw, so it can be redacted again when the turn's redactor
changes (the environment's secrets are known only after the first steps). A message still
streaming may end with the first characters of a secret whose rest is in the next chunk;
those characters stay back (`Redactor.partial_prefix`), from deltas and previews alike,
until the next chunk or the end of the message decides. Nothing else is held: text that
cannot start a secret goes out at once.

Previews (`take_preview`) carry streamed text not yet sent in a delta nor previewed, by its
offset in the message's redacted content, which is what the stored content grows to.
"""

from __future__ import annotations

from collections.abc import Callable

from agent_runner.environment import Redactor
from agent_runner.status._changes import ChangeSet, Key
from ai.stigmer.agentic.agentexecution.v1.io_pb2 import StatusPreview, TextPreview
from ai.stigmer.agentic.agentexecution.v1.status_pb2 import AgentMessage

MessageOf = Callable[[Key], AgentMessage]


class MessageTexts:
    def __init__(self, redact: Redactor, changes: ChangeSet) -> None:
        self.redact = redact
        self._changes = changes
        self._raw: dict[Key, str] = {}
        self._previewed: dict[Key, int] = {}

    def set(
        self, key: Key, target: AgentMessage, raw: str, *, final: bool, redacted: bool = False
    ) -> None:
        """The message's whole text; `final` when it will not grow any more."""
        self._raw[key] = raw
        content = raw if redacted else self.redact(raw)
        self._changes.text_changed(key, target.content, content)
        # A message that stops streaming must release the tail it held back, even unchanged.
        released = final and self._changes.stop_streaming(key)
        if content != target.content or released:
            target.content = content
            self._changes.mark(key)

    def extend(self, key: Key, target: AgentMessage, piece: str) -> None:
        """A streamed chunk of the message."""
        self._changes.start_streaming(key)
        self.set(key, target, self._raw.get(key, "") + piece, final=False)

    def finish_streaming(self) -> None:
        """The turn ended: every held-back tail may go."""
        for key in self._changes.stop_all_streaming():
            self._changes.mark(key)

    def set_redactor(self, redact: Redactor, message_of: MessageOf) -> None:
        """The environment is known: text kept so far is redacted again with every secret."""
        self.redact = redact
        for key, raw in list(self._raw.items()):
            self.set(key, message_of(key), raw, final=not self._changes.streaming(key))

    def releasable(self, key: Key, content: str) -> int:
        """How much of `content` may leave now (all of it unless the message streams)."""
        if not self._changes.streaming(key):
            return len(content)
        return len(content) - self.redact.partial_prefix(content)

    def take_preview(self, message_of: MessageOf) -> StatusPreview | None:
        """Streamed text that left in neither a delta nor a preview yet."""
        texts = []
        for key in self._changes.streaming_keys():
            content = message_of(key).content
            start = max(self._previewed.get(key, 0), self._changes.sent(key))
            end = self.releasable(key, content)
            if end <= start:
                continue
            _kind, scope, message_id = key
            texts.append(
                TextPreview(
                    message_id=message_id, sub_agent_id=scope, offset=start, text=content[start:end]
                )
            )
            self._previewed[key] = end
        return StatusPreview(texts=texts) if texts else None
