"""A fake Anthropic Messages API: `POST /v1/messages`, streamed as SSE with `event:` lines.

Point `ChatAnthropic(base_url=fake.url, api_key=...)` at it (the SDK adds `/v1`). Usage goes
into `message_delta` too, because langchain-anthropic reads token counts only from there.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from stigmer_testing.fakes._http import RecordedRequest, Response
from stigmer_testing.fakes._script import (
    ScriptedProvider,
    Turn,
    estimate_tokens,
    json_chunks,
    text_chunks,
)

_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    529: "overloaded_error",
}


class FakeAnthropic(ScriptedProvider):
    chat_path = "/v1/messages"
    input_roles = ("user",)  # tool results come back inside user messages

    def authorized(self, headers: Mapping[str, str]) -> bool:
        # The installed SDK sends a bearer token; older ones send x-api-key.
        return headers.get("authorization") == f"Bearer {self.api_key}" or (
            headers.get("x-api-key") == self.api_key
        )

    def handle(self, request: RecordedRequest) -> Response:
        if request.method == "POST" and request.path == "/v1/messages/count_tokens":
            if self.api_key is not None and not self.authorized(request.headers):
                return self.error_response(401, "invalid api key")
            messages = (request.json() or {}).get("messages", [])
            return Response.json(200, {"input_tokens": estimate_tokens(len(json.dumps(messages)))})
        return super().handle(request)

    def error_response(self, status: int, message: str) -> Response:
        kind = _ERROR_TYPES.get(status, "api_error")
        return Response.json(status, {"type": "error", "error": {"type": kind, "message": message}})

    def whole(self, body: Mapping[str, Any], turn: Turn) -> Any:
        content: list[dict[str, Any]] = []
        if turn.reply.text:
            content.append({"type": "text", "text": turn.reply.text})
        for position, call in enumerate(turn.reply.tool_calls):
            content.append(
                {
                    "type": "tool_use",
                    "id": _tool_id(turn.index, position),
                    "name": call.name,
                    "input": dict(call.args),
                }
            )
        return {
            **self._message(turn),
            "content": content,
            "stop_reason": _stop_reason(turn),
            "usage": {"input_tokens": turn.input_tokens, "output_tokens": turn.output_tokens},
        }

    def stream(self, body: Mapping[str, Any], turn: Turn) -> Response:
        events = [
            _event(
                "message_start",
                {
                    "message": {
                        **self._message(turn),
                        "content": [],
                        "stop_reason": None,
                        "usage": {"input_tokens": turn.input_tokens, "output_tokens": 1},
                    }
                },
            ),
            _event("ping", {}),
        ]
        block = 0
        if turn.reply.text:
            events.append(_block_start(block, {"type": "text", "text": ""}))
            for piece in text_chunks(turn.reply.text):
                delta = {"type": "text_delta", "text": piece}
                events.append(_event("content_block_delta", {"index": block, "delta": delta}))
            events.append(_event("content_block_stop", {"index": block}))
            block += 1
        for position, call in enumerate(turn.reply.tool_calls):
            tool = {"type": "tool_use", "id": _tool_id(turn.index, position), "name": call.name}
            events.append(_block_start(block, {**tool, "input": {}}))
            for piece in ["", *json_chunks(call.args)]:
                delta = {"type": "input_json_delta", "partial_json": piece}
                events.append(_event("content_block_delta", {"index": block, "delta": delta}))
            events.append(_event("content_block_stop", {"index": block}))
            block += 1
        usage = {"input_tokens": turn.input_tokens, "output_tokens": turn.output_tokens}
        stop = {"stop_reason": _stop_reason(turn), "stop_sequence": None}
        if turn.reply.stream_error is not None:
            error = {"type": "overloaded_error", "message": turn.reply.stream_error}
            events.append(_event("error", {"error": error}))
        else:
            events.append(_event("message_delta", {"delta": stop, "usage": usage}))
            events.append(_event("message_stop", {}))
        return Response(
            200, tuple(events), content_type="text/event-stream", part_delay=self.chunk_delay
        )

    def _message(self, turn: Turn) -> dict[str, Any]:
        return {
            "id": f"msg_fake_{turn.index}",
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "stop_sequence": None,
        }


def _tool_id(index: int, position: int) -> str:
    return f"toolu_fake_{index}_{position}"


def _stop_reason(turn: Turn) -> str:
    return "tool_use" if turn.reply.tool_calls else "end_turn"


def _block_start(index: int, block: Mapping[str, Any]) -> bytes:
    return _event("content_block_start", {"index": index, "content_block": dict(block)})


def _event(kind: str, data: Mapping[str, Any]) -> bytes:
    # The SDK drops any event without an `event:` line.
    payload = json.dumps({"type": kind, **data})
    return f"event: {kind}\ndata: {payload}\n\n".encode()
