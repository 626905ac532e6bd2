"""A deterministic chat model that plays a script: offline turns for users and tests.

Reply *i* answers the call that already sees *i* AI messages, so a second turn continues the
list and a resumed or replayed call gets the same reply. The position is read from the ids
the model gave its own earlier replies (`<speaker>-reply-<i>`) and their tool calls
(`<speaker>-call-<i>-<j>`): the highest seen, plus one. Counting AI messages would go back
once deepagents' summarization compacts the conversation (the model then sees a summary and
the last few messages), and the script would replay earlier replies forever; the ids
survive summarization. A conversation without any of them (another model answered so far)
falls back to the count.

deepagents asks the model itself for that summary: such a call (metadata
`lc_source="summarization"`, or, on the streaming path where langchain hands the model no
run manager, a lone human message holding langchain's summary prompt) gets a fixed summary
text with an id of its own, and takes no reply of the script.

Text is streamed in several chunks, then a last chunk carries the tool calls (ids derived
from the position, so they are stable across retries) and the token usage, the way real
providers stream.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

from langchain.agents.middleware.summarization import DEFAULT_SUMMARY_PROMPT
from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LangSmithParams, LanguageModelInput
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    HumanMessage,
    ToolMessage,
)
from langchain_core.messages.tool import tool_call_chunk
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable
from pydantic import ConfigDict

from agent_runner.models._script import Script, ScriptedReply

EXPECTATION_FAILED = "script expectation failed:"
_CHUNK_WORDS = 3
# Marks the model calls langchain's summarization middleware makes (`_summary_config`).
_SUMMARY_SOURCE = "summarization"
# What the summary request starts with (deepagents inserts its own text before the history).
_SUMMARY_PROMPT_START = DEFAULT_SUMMARY_PROMPT.partition("\n<messages>\n")[0]


def exhausted_text(script: str, position: int) -> str:
    return (
        f"The scripted model (script {script!r}) has no reply {position}: the script is exhausted."
    )


def unscripted_subagent_text(name: str) -> str:
    return f"The scripted sub-agent {name!r} has no script entry; this is its fixed answer."


def summary_text(speaker: str, position: int) -> str:
    return (
        f"The scripted model ({speaker}) summarizes the conversation so far: it played "
        f"{position} replies of its script."
    )


class ScriptedChatModel(BaseChatModel):
    """Plays `script`; `speaker` names the agent (main or a sub-agent) in ids and texts."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    script: Script | None
    speaker: str = "main"

    @property
    def _llm_type(self) -> str:
        return "stigmer-scripted"

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        # What callbacks (metrics, spans) name the model by: `scripted:<script>`.
        name = self.script.name if self.script is not None else "none"
        return LangSmithParams(ls_provider="scripted", ls_model_name=name, ls_model_type="chat")

    def bind_tools(
        self, tools: Sequence[Any], **kwargs: Any
    ) -> Runnable[LanguageModelInput, AIMessage]:
        # Tool calls come from the script, so the tool schemas are not needed.
        return self

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        chunks = list(self._chunks(messages, summary=_summarizing(run_manager, messages)))
        merged = chunks[0]
        for chunk in chunks[1:]:
            merged = merged + chunk
        message = AIMessage(
            content=merged.content,
            id=merged.id,
            tool_calls=merged.tool_calls,
            usage_metadata=merged.usage_metadata,
            response_metadata=merged.response_metadata,
        )
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        # BaseChatModel fires on_llm_new_token per chunk itself; calling it here doubles events.
        for chunk in self._chunks(messages, summary=_summarizing(run_manager, messages)):
            yield ChatGenerationChunk(message=chunk)

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        for chunk in self._chunks(messages, summary=_summarizing(run_manager, messages)):
            yield ChatGenerationChunk(message=chunk)

    def position(self, messages: Sequence[BaseMessage]) -> int:
        """Which reply of the script this call gets (see the module's docstring)."""
        reply = re.compile(rf"{re.escape(self.speaker)}-(?:reply|call)-(\d+)(?:-\d+)?")
        highest = -1
        for message in messages:
            ids: list[str | None] = []
            if isinstance(message, AIMessage):
                ids = [message.id, *(call.get("id") for call in message.tool_calls)]
            elif isinstance(message, ToolMessage):
                ids = [message.tool_call_id]
            for found in ids:
                matched = reply.fullmatch(found or "")
                if matched:
                    highest = max(highest, int(matched.group(1)))
        if highest >= 0:
            return highest + 1
        return sum(1 for m in messages if isinstance(m, AIMessage))

    def _chunks(self, messages: list[BaseMessage], *, summary: bool) -> Iterator[AIMessageChunk]:
        position = self.position(messages)
        if summary:
            reply = ScriptedReply(text=summary_text(self.speaker, position))
            message_id = f"{self.speaker}-summary-{position}"
        else:
            reply = self._reply(messages, position)
            message_id = f"{self.speaker}-reply-{position}"
        words = reply.text.split(" ") if reply.text else []
        for start in range(0, len(words), _CHUNK_WORDS):
            piece = " ".join(words[start : start + _CHUNK_WORDS])
            if start + _CHUNK_WORDS < len(words):
                piece += " "
            yield AIMessageChunk(content=piece, id=message_id)
        input_tokens = sum(len(str(m.content)) for m in messages) // 4 + 1
        output_tokens = len(reply.text) // 4 + 1 + 10 * len(reply.tool_calls)
        yield AIMessageChunk(
            content="",
            id=message_id,
            tool_call_chunks=[
                tool_call_chunk(
                    name=call.name,
                    args=json.dumps(dict(call.args)),
                    id=f"{self.speaker}-call-{position}-{index}",
                    index=index,
                )
                for index, call in enumerate(reply.tool_calls)
            ],
            usage_metadata={
                "input_tokens": input_tokens,
                "output_tokens": output_tokens,
                "total_tokens": input_tokens + output_tokens,
            },
            response_metadata={
                "finish_reason": "tool_calls" if reply.tool_calls else "stop",
                "model_name": f"scripted:{self.script.name if self.script else self.speaker}",
            },
            chunk_position="last",
        )

    def _reply(self, messages: list[BaseMessage], position: int) -> ScriptedReply:
        if self.script is None:
            return ScriptedReply(text=unscripted_subagent_text(self.speaker))
        if position >= len(self.script.replies):
            return ScriptedReply(text=exhausted_text(self.script.name, position))
        reply = self.script.replies[position]
        if reply.expect is not None:
            last = next(
                (m for m in reversed(messages) if isinstance(m, (HumanMessage, ToolMessage))),
                None,
            )
            seen = last.text if last is not None else ""
            if reply.expect not in seen:
                return ScriptedReply(
                    text=(
                        f"{EXPECTATION_FAILED} reply {position} of script {self.script.name!r} "
                        f"expected the last human/tool message to contain {reply.expect!r}, "
                        f"but it was {seen[:200]!r}"
                    )
                )
        return reply


def _summarizing(
    run_manager: CallbackManagerForLLMRun | AsyncCallbackManagerForLLMRun | None,
    messages: Sequence[BaseMessage],
) -> bool:
    if run_manager is not None and run_manager.metadata.get("lc_source") == _SUMMARY_SOURCE:
        return True
    return (
        len(messages) == 1
        and isinstance(messages[0], HumanMessage)
        and messages[0].text.startswith(_SUMMARY_PROMPT_START)
    )
