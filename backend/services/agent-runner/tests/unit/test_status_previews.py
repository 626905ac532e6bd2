"""Previews from the builder: streamed text ahead of its delta, exact offsets, no secret.

The publisher asks for a preview after every stream event and sends deltas in batches; these
tests do the same with recorded runs and check what a client (`stigmer_status.LiveExecution`)
would show at every step.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from langchain_core.messages import AIMessage, AIMessageChunk

RECORDINGS = Path(__file__).resolve().parents[1] / "recordings"
sys.path.insert(0, str(RECORDINGS))
from replay import Item, builder, items  # noqa: E402

from agent_runner.status import StatusBuilder  # noqa: E402
from ai.stigmer.agentic.agentexecution.v1.api_pb2 import AgentExecution  # noqa: E402
from ai.stigmer.agentic.agentexecution.v1.enum_pb2 import ExecutionPhase, MessageType  # noqa: E402
from ai.stigmer.agentic.agentexecution.v1.io_pb2 import (  # noqa: E402
    AgentExecutionEvent,
    StatusPreview,
    TextPreview,
)
from stigmer_status import LiveExecution  # noqa: E402

SECRET = "s3cr3t-token-value"


def run(
    stream: list[Item], target: StatusBuilder, *, every: int
) -> tuple[list[TextPreview], list[AgentExecution], AgentExecution]:
    """Previews after every event, deltas every `every` events and at the end; returns the
    previews, what a client showed after each event, and the client's final copy."""
    live = LiveExecution()
    sequence = 1
    live.apply(AgentExecutionEvent(sequence=sequence, snapshot=AgentExecution()))
    previews: list[TextPreview] = []
    views: list[AgentExecution] = []

    def send_delta() -> None:
        nonlocal sequence
        delta = target.take_delta()
        if delta is not None:
            target.commit(delta)
            sequence += 1
            live.apply(AgentExecutionEvent(sequence=sequence, delta=delta.status))

    for index, (namespace, mode, payload) in enumerate(stream):
        target.handle(namespace, mode, payload)
        preview = target.take_preview()
        if preview is not None:
            previews.extend(preview.texts)
            live.apply(AgentExecutionEvent(sequence=sequence, preview=preview))
        if index % every == every - 1:
            send_delta()
        view = live.view()
        assert view is not None
        views.append(view)
    target.finish(ExecutionPhase.EXECUTION_COMPLETED)
    send_delta()
    assert live.execution is not None
    return previews, views, live.execution


def streamed(stream: list[Item]) -> set[tuple[str, str | None]]:
    """(namespace, message id) of every reply whose text was streamed in chunks."""
    return {
        (namespace[0] if namespace else "", payload[0].id)
        for namespace, mode, payload in stream
        if mode == "messages" and isinstance(payload[0], AIMessageChunk) and payload[0].text
    }


@pytest.mark.parametrize("name", ["demo", "parallel-subagents"])
def test_previews_alone_carry_exactly_the_streamed_text_at_contiguous_offsets(name: str) -> None:
    stream = items(name)
    target = builder()
    previews, _views, final = run(stream, target, every=10**6)  # no delta before the end
    by_message: dict[tuple[str, str], list[TextPreview]] = {}
    for text in previews:
        by_message.setdefault((text.sub_agent_id, text.message_id), []).append(text)
    assert len(by_message) == len(streamed(stream)) > 0
    for (sub_id, message_id), texts in by_message.items():
        container = final.status
        if sub_id:
            container = next(s for s in final.status.sub_agent_executions if s.id == sub_id)  # type: ignore[assignment]
        (message,) = [m for m in container.messages if m.id == message_id]
        assert message.type == MessageType.MESSAGE_AI
        offsets = [t.offset for t in texts]
        assert offsets == [sum(len(t.text) for t in texts[:i]) for i in range(len(texts))]
        assert "".join(t.text for t in texts) == message.content


def test_sub_agent_previews_name_their_sub_agent_execution() -> None:
    target = builder()
    previews, _views, final = run(items("parallel-subagents"), target, every=10**6)
    researchers = [s.id for s in final.status.sub_agent_executions if s.name == "researcher"]
    answers = {t.sub_agent_id for t in previews if t.text.startswith("The research")}
    assert len(researchers) == 2
    assert answers == set(researchers)


@pytest.mark.parametrize("every", [1, 3, 7])
def test_a_client_always_shows_a_prefix_of_the_final_text_and_ends_with_all_of_it(
    every: int,
) -> None:
    target = builder()
    _previews, views, final = run(items("demo"), target, every=every)
    final.status.sequence = 0  # the client's numbering, not part of the builder's status
    assert final.status == target.final_status()
    ended = {m.id: m.content for m in final.status.messages}
    grew = False
    for view in views:
        for message in view.status.messages:
            assert ended[message.id].startswith(message.content), message.id
            grew |= message.type == MessageType.MESSAGE_AI and len(message.content) > 0
    assert grew


def test_no_secret_leaves_in_a_preview_or_a_delta_from_a_recorded_run() -> None:
    target = builder([SECRET])
    previews, views, final = run(items("failure-and-secret"), target, every=2)
    assert all(SECRET not in t.text for t in previews)
    assert all(SECRET not in str(view) for view in views)
    assert "the token is *** and nothing else" in final.status.messages[-1].content


def chunks(message_id: str, *pieces: str) -> list[Item]:
    stream: list[Item] = [
        ((), "messages", (AIMessageChunk(content=piece, id=message_id), {})) for piece in pieces
    ]
    whole = AIMessage(content="".join(pieces), id=message_id)
    stream.append(((), "updates", {"model": {"messages": [whole]}}))
    return stream


@pytest.mark.parametrize("cut", range(1, len(SECRET)))
def test_a_secret_split_across_chunks_never_leaves_and_the_rest_is_not_held(cut: int) -> None:
    text = f"the token is {SECRET} and more"
    split = text.index(SECRET) + cut
    target = builder([SECRET])
    target.handle(*chunks("m", text[:split])[0])
    first = target.take_preview()
    assert first is not None
    # Everything before the secret leaves at once; only its possible start is held back.
    assert first.texts[0].text == "the token is "
    delta = target.take_delta()
    assert delta is not None
    assert all(SECRET[:2] not in m.content for m in delta.status.messages)
    target.commit(delta)
    for item in chunks("m", text[:split], text[split:])[1:]:
        target.handle(*item)
    rest = target.take_preview()
    assert rest is None  # the reply ended: the rest goes in the delta, not a preview
    final = target.take_delta()
    assert final is not None
    (message,) = [m for m in final.status.messages if m.id == "m"]
    assert message.append
    assert message.content == "*** and more"
    assert target.status.messages[-1].content == "the token is *** and more"


def test_without_secrets_a_chunk_is_previewed_whole_at_once() -> None:
    target = builder()
    target.handle(*chunks("m", "the token is s3c")[0])
    assert target.take_preview() == StatusPreview(
        texts=[TextPreview(message_id="m", offset=0, text="the token is s3c")]
    )
    assert target.take_preview() is None  # nothing new
