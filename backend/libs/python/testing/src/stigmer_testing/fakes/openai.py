"""A fake OpenAI-compatible chat-completions API: `POST /v1/chat/completions`.

Point `ChatOpenAI(base_url=fake.url + "/v1", stream_usage=True)` at it: with a custom base
URL langchain-openai asks for usage only when `stream_usage` is on, and the fake sends the
usage chunk only when the request sets `stream_options.include_usage`, as OpenAI does.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from stigmer_testing.fakes._http import Response
from stigmer_testing.fakes._script import (
    ScriptedProvider,
    Turn,
    bearer_matches,
    json_chunks,
    text_chunks,
)

_ERROR_TYPES = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    404: ("invalid_request_error", "model_not_found"),
    429: ("requests", "rate_limit_exceeded"),
}

_CREATED = 1_700_000_000  # a fixed timestamp keeps replies reproducible


class FakeOpenAI(ScriptedProvider):
    chat_path = "/v1/chat/completions"

    def authorized(self, headers: Mapping[str, str]) -> bool:
        return bearer_matches(headers, self.api_key)

    def error_response(self, status: int, message: str) -> Response:
        kind, code = _ERROR_TYPES.get(status, ("server_error", None))
        error = {"message": message, "type": kind, "param": None, "code": code}
        return Response.json(status, {"error": error})

    def whole(self, body: Mapping[str, Any], turn: Turn) -> Any:
        message: dict[str, Any] = {"role": "assistant", "content": turn.reply.text or None}
        if turn.reply.tool_calls:
            message["tool_calls"] = [
                {
                    "id": _call_id(turn.index, position),
                    "type": "function",
                    "function": {"name": call.name, "arguments": json.dumps(dict(call.args))},
                }
                for position, call in enumerate(turn.reply.tool_calls)
            ]
        choice = {"index": 0, "message": message, "finish_reason": _finish(turn)}
        return {
            **self._head(turn, "chat.completion"),
            "choices": [choice],
            "usage": _usage(turn),
        }

    def stream(self, body: Mapping[str, Any], turn: Turn) -> Response:
        deltas: list[dict[str, Any]] = [{"role": "assistant", "content": ""}]
        deltas += [{"content": piece} for piece in text_chunks(turn.reply.text)]
        for position, call in enumerate(turn.reply.tool_calls):
            # The index stays the same across a call's deltas: that is how clients join them.
            opening = {
                "index": position,
                "id": _call_id(turn.index, position),
                "type": "function",
                "function": {"name": call.name, "arguments": ""},
            }
            deltas.append({"tool_calls": [opening]})
            for piece in json_chunks(call.args):
                deltas.append(
                    {"tool_calls": [{"index": position, "function": {"arguments": piece}}]}
                )
        head = self._head(turn, "chat.completion.chunk")
        chunks = [
            {**head, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}
            for delta in deltas
        ]
        if turn.reply.stream_error is not None:
            # OpenAI reports a failure inside a stream as a chunk holding only `error`.
            error = {"message": turn.reply.stream_error, "type": "server_error", "code": None}
            chunks.append({"error": error})
        else:
            done = {"index": 0, "delta": {}, "finish_reason": _finish(turn)}
            chunks.append({**head, "choices": [done]})
            options = body.get("stream_options")
            if isinstance(options, dict) and options.get("include_usage"):
                chunks.append({**head, "choices": [], "usage": _usage(turn)})
        parts = [f"data: {json.dumps(chunk)}\n\n".encode() for chunk in chunks]
        if turn.reply.stream_error is None:
            parts.append(b"data: [DONE]\n\n")
        return Response(
            200, tuple(parts), content_type="text/event-stream", part_delay=self.chunk_delay
        )

    def _head(self, turn: Turn, kind: str) -> dict[str, Any]:
        return {
            "id": f"chatcmpl-fake-{turn.index}",
            "object": kind,
            "created": _CREATED,
            "model": self.model,
        }


def _call_id(index: int, position: int) -> str:
    return f"call_fake_{index}_{position}"


def _finish(turn: Turn) -> str:
    return "tool_calls" if turn.reply.tool_calls else "stop"


def _usage(turn: Turn) -> dict[str, int]:
    return {
        "prompt_tokens": turn.input_tokens,
        "completion_tokens": turn.output_tokens,
        "total_tokens": turn.input_tokens + turn.output_tokens,
    }
