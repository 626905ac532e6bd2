"""A fake Ollama server: `POST /api/chat`, streamed as NDJSON.

Point `ChatOllama(base_url=fake.url)` at it. Ollama sends a tool call whole, with its
arguments as an object, and reports usage as `prompt_eval_count`/`eval_count` on the last
line. Ollama has no API key, so `api_key` is only checked when a test sets it.
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
    text_chunks,
)

_CREATED_AT = "2026-01-01T00:00:00.000000Z"


class FakeOllama(ScriptedProvider):
    chat_path = "/api/chat"

    def authorized(self, headers: Mapping[str, str]) -> bool:
        return bearer_matches(headers, self.api_key)

    def error_response(self, status: int, message: str) -> Response:
        return Response.json(status, {"error": message})

    def whole(self, body: Mapping[str, Any], turn: Turn) -> Any:
        message = {"role": "assistant", "content": turn.reply.text, **_tool_calls(turn)}
        return {**self._line(message), **_done(turn)}

    def stream(self, body: Mapping[str, Any], turn: Turn) -> Response:
        lines = [
            self._line({"role": "assistant", "content": piece})
            for piece in text_chunks(turn.reply.text)
        ]
        if turn.reply.tool_calls:
            lines.append(self._line({"role": "assistant", "content": "", **_tool_calls(turn)}))
        if turn.reply.stream_error is not None:
            lines.append({"error": turn.reply.stream_error})
        else:
            lines.append({**self._line({"role": "assistant", "content": ""}), **_done(turn)})
        parts = tuple(f"{json.dumps(line)}\n".encode() for line in lines)
        return Response(
            200, parts, content_type="application/x-ndjson", part_delay=self.chunk_delay
        )

    def _line(self, message: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "model": self.model,
            "created_at": _CREATED_AT,
            "message": dict(message),
            "done": False,
        }


def _tool_calls(turn: Turn) -> dict[str, Any]:
    if not turn.reply.tool_calls:
        return {}
    calls = [
        {"function": {"name": c.name, "arguments": dict(c.args)}} for c in turn.reply.tool_calls
    ]
    return {"tool_calls": calls}


def _done(turn: Turn) -> dict[str, Any]:
    return {
        "done": True,
        "done_reason": "stop",
        "prompt_eval_count": turn.input_tokens,
        "eval_count": turn.output_tokens,
        "total_duration": 1_000_000,
    }
