"""Scripted replies for the model-provider fakes, by the rules of the scripted model.

Reply i answers the request whose conversation already holds i assistant messages, so a
retried or replayed request gets the same reply and a second turn continues the list. An
`expect` substring must occur in the last user or tool message, otherwise the reply is a
text starting `script expectation failed:`; past the end the reply says the script is
exhausted. Both are answered normally so the test sees them in the model's output.
"""

from __future__ import annotations

import json
import re
import threading
from abc import abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from stigmer_testing.fakes._http import FakeHttpServer, RecordedRequest, Response


@dataclass(frozen=True)
class ToolCall:
    name: str
    args: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Reply:
    """One assistant reply: text and/or tool calls; token counts default to estimates.

    With `stream_error`, a stream breaks off after the reply's content with an in-stream
    error carrying that message (HTTP status already 200, so clients do not retry it);
    a non-streaming request gets a 500 with the message instead.
    """

    text: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    expect: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    stream_error: str | None = None

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Reply:
        """A reply in the scripted model's YAML format: `text`, `tool_calls`, `expect`."""
        known = {"text", "tool_calls", "expect", "input_tokens", "output_tokens", "stream_error"}
        unknown = set(data) - known
        if unknown:
            raise ValueError(
                f"reply has unknown keys {sorted(unknown)}: expected text, tool_calls, expect"
            )
        calls = []
        for call in data.get("tool_calls") or ():
            if not isinstance(call, Mapping) or not isinstance(call.get("name"), str):
                raise ValueError(f"tool_calls entry must be a mapping with a name, got {call!r}")
            calls.append(ToolCall(call["name"], dict(call.get("args") or {})))
        return cls(
            text=str(data.get("text") or ""),
            tool_calls=tuple(calls),
            expect=data.get("expect"),
            input_tokens=data.get("input_tokens"),
            output_tokens=data.get("output_tokens"),
            stream_error=data.get("stream_error"),
        )


@dataclass(frozen=True)
class Conversation:
    """What the script needs to know about a request's messages."""

    assistant_messages: int
    last_input: str
    size: int  # characters, for the input-token estimate
    opening: str = ""  # the system prompt and the first user message, to pick a script by


def estimate_tokens(characters: int) -> int:
    """A stable stand-in for a tokenizer: about four characters per token."""
    return max(1, characters // 4)


def text_chunks(text: str) -> list[str]:
    """Word-sized pieces, so a streamed reply arrives as several deltas."""
    return re.findall(r"\s*\S+\s*", text) or ([text] if text else [])


def json_chunks(args: Mapping[str, Any]) -> list[str]:
    """Tool arguments as a JSON string sent in pieces, the way providers stream them."""
    encoded = json.dumps(dict(args))
    middle = max(1, len(encoded) // 2)
    return [encoded[:middle], encoded[middle:]]


def output_size(reply: Reply) -> int:
    return len(reply.text) + sum(
        len(c.name) + len(json.dumps(dict(c.args))) for c in reply.tool_calls
    )


class ScriptedProvider(FakeHttpServer):
    """A model-provider fake: answers its chat endpoint from a list of replies."""

    chat_path: str
    # Roles whose last message an `expect` is checked against (tool results included).
    input_roles: tuple[str, ...] = ("user", "tool")

    def __init__(
        self,
        replies: Iterable[Reply] = (),
        *,
        api_key: str | None = None,
        chunk_delay: float = 0.0,
        model: str = "fake-model",
    ) -> None:
        super().__init__()
        self.api_key = api_key
        self.chunk_delay = chunk_delay
        self.model = model
        self._scripts: dict[str | None, tuple[Reply, ...]] = {None: tuple(replies)}
        self._replies_lock = threading.Lock()

    def set_replies(self, replies: Iterable[Reply], *, when: str | None = None) -> None:
        """Set the script; with `when`, a separate script for conversations whose system
        prompt or first user message contains it (a sub-agent's task, say), since each
        such conversation counts its assistant messages from zero."""
        with self._replies_lock:
            self._scripts[when] = tuple(replies)

    def reply_for(self, conversation: Conversation) -> Reply:
        with self._replies_lock:
            chosen = [r for w, r in self._scripts.items() if w and w in conversation.opening]
            replies = chosen[0] if chosen else self._scripts.get(None, ())
        index = conversation.assistant_messages
        if index >= len(replies):
            return Reply(text=f"script exhausted: no reply {index}, the script has {len(replies)}")
        reply = replies[index]
        if reply.expect is not None and reply.expect not in conversation.last_input:
            return Reply(
                text=f"script expectation failed: expected {reply.expect!r} in the last user "
                f"or tool message, got {conversation.last_input[-200:]!r}"
            )
        return reply

    def handle(self, request: RecordedRequest) -> Response:
        if request.method != "POST" or request.path != self.chat_path:
            return self.error_response(404, f"no route for {request.method} {request.path}")
        if self.api_key is not None and not self.authorized(request.headers):
            return self.error_response(401, "invalid api key")
        body = request.json()
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            return self.error_response(400, "body must be a JSON object with a messages list")
        conversation = _conversation(body, self.input_roles)
        reply = self.reply_for(conversation)
        input_tokens = reply.input_tokens or estimate_tokens(conversation.size)
        output_tokens = reply.output_tokens or estimate_tokens(output_size(reply))
        turn = Turn(reply, conversation.assistant_messages, input_tokens, output_tokens)
        if body.get("stream"):
            return self.stream(body, turn)
        if reply.stream_error is not None:
            return self.error_response(500, reply.stream_error)
        return Response.json(200, self.whole(body, turn))

    @abstractmethod
    def authorized(self, headers: Mapping[str, str]) -> bool: ...

    @abstractmethod
    def stream(self, body: Mapping[str, Any], turn: Turn) -> Response: ...

    @abstractmethod
    def whole(self, body: Mapping[str, Any], turn: Turn) -> Any: ...


@dataclass(frozen=True)
class Turn:
    """The reply chosen for one request, with its position and token counts."""

    reply: Reply
    index: int
    input_tokens: int
    output_tokens: int


def bearer_matches(headers: Mapping[str, str], api_key: str | None) -> bool:
    return headers.get("authorization") == f"Bearer {api_key}"


def content_text(content: Any) -> str:
    """The text of a message's content, whether a string or a list of content blocks."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(content_text(block) for block in content)
    if isinstance(content, dict):
        for key in ("text", "content"):
            if key in content:
                return content_text(content[key])
    return ""


def _conversation(body: Mapping[str, Any], input_roles: tuple[str, ...]) -> Conversation:
    messages: Sequence[Any] = body["messages"]
    roles = [m.get("role") if isinstance(m, dict) else None for m in messages]
    inputs = [m for m, role in zip(messages, roles, strict=True) if role in input_roles]
    # Anthropic keeps the system prompt beside the messages; the others send it as one.
    opening = [content_text(body.get("system"))]
    for message, role in zip(messages, roles, strict=True):
        opening.append(content_text(message.get("content")) if role else "")
        if role == "user":
            break
    return Conversation(
        assistant_messages=roles.count("assistant"),
        last_input=content_text(inputs[-1].get("content")) if inputs else "",
        size=len(json.dumps(list(messages))),
        opening="\n".join(opening),
    )
