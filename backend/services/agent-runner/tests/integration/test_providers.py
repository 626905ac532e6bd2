"""Whole turns on the real provider clients (ChatAnthropic, ChatOpenAI, ChatOllama) against
the protocol fakes: Temporal dev server + stigmer-server + the runner worker process.

The provider's key and base URL travel in the session's environment (the key as a secret),
so one runner serves every provider and the key never sits in the runner's configuration.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from runner_world import World

from ai.stigmer.agentic.agentexecution.v1.enum_pb2 import (
    ExecutionPhase,
    MessageType,
    ToolCallStatus,
)
from stigmer_testing._runner import AgentRunnerProcess, start_agent_runner
from stigmer_testing._server import StigmerServer, start_stigmer_server
from stigmer_testing.fakes import (
    Failure,
    FakeAnthropic,
    FakeHttpServer,
    FakeOllama,
    FakeOpenAI,
    Reply,
    ToolCall,
)

pytestmark = pytest.mark.integration

TEXT = "Let me check the sandbox for you now."
SCRIPT = [
    Reply(
        text=TEXT,
        tool_calls=(ToolCall("execute", {"command": "echo provider-$GREETING"}),),
        input_tokens=120,
        output_tokens=30,
    ),
    Reply(
        text="The sandbox says provider-hello.",
        expect="provider-hello",
        input_tokens=200,
        output_tokens=12,
    ),
]


@pytest.fixture(scope="module")
async def server(temporal_address: str) -> AsyncIterator[StigmerServer]:
    async with start_stigmer_server(temporal_address) as running:
        yield running


@pytest.fixture(scope="module")
async def runner(
    server: StigmerServer, temporal_address: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[AgentRunnerProcess]:
    async with start_agent_runner(
        server,
        temporal_address,
        data_dir=tmp_path_factory.mktemp("runner"),
        env={"STATUS_FLUSH_MAX_DELAY_MS": "50"},
    ) as process:
        yield process


@pytest.fixture
def world(server: StigmerServer, runner: AgentRunnerProcess, world_for: Any) -> World:
    result: World = world_for(server)
    return result


def api_key(fake: FakeHttpServer) -> str:
    key = getattr(fake, "api_key", None)
    assert key, f"{type(fake).__name__} has no api key"
    return str(key)


def provider_session_env(fake: FakeHttpServer) -> tuple[str, dict[str, str], dict[str, str]]:
    """(model, secret values, plain values) pointing an agent at `fake`."""
    if isinstance(fake, FakeAnthropic):
        return (
            "anthropic:claude-test",
            {"ANTHROPIC_API_KEY": api_key(fake)},
            {"ANTHROPIC_BASE_URL": fake.url},
        )
    if isinstance(fake, FakeOpenAI):
        return (
            "openai:gpt-test",
            {"OPENAI_API_KEY": api_key(fake)},
            {"OPENAI_BASE_URL": fake.url + "/v1"},
        )
    assert isinstance(fake, FakeOllama), type(fake).__name__
    return "ollama:llama-test", {}, {"OLLAMA_BASE_URL": fake.url}


@pytest.fixture(params=["anthropic", "openai", "ollama"])
def provider(request: pytest.FixtureRequest) -> FakeHttpServer:
    fake: FakeHttpServer = request.getfixturevalue(f"fake_{request.param}")
    return fake


async def provider_session(world: World, fake: FakeHttpServer) -> Any:
    model, secret, plain = provider_session_env(fake)
    return await world.session(model, secrets_env=secret, plain_env=plain, sub_agents=False)


def chat_requests(fake: FakeHttpServer) -> list[Any]:
    return [
        r
        for r in fake.requests
        if r.method == "POST" and r.path.endswith(("messages", "completions", "/api/chat"))
    ]


async def test_a_turn_streams_runs_a_tool_and_records_usage(
    world: World, runner: AgentRunnerProcess, provider: Any
) -> None:
    provider.set_replies(SCRIPT)
    # Chunks slower than the runner's flush delay (50 ms): the text must go out in pieces.
    provider.chunk_delay = 0.15
    session = await provider_session(world, provider)
    execution = await world.start(session, "What does the sandbox say?")
    events = await world.watch(execution.metadata.id)
    status = (await world.get(execution.metadata.id)).status
    assert status.phase == ExecutionPhase.EXECUTION_COMPLETED, status.error
    # The reply's text reached subscribe in pieces, as append deltas, before the end.
    pieces = [
        m
        for e in events
        if e.WhichOneof("payload") == "delta"
        for m in e.delta.messages
        if m.type == MessageType.MESSAGE_AI and m.content
    ]
    assert any(m.append for m in pieces)
    first = [m for m in pieces if m.id == pieces[0].id]
    assert len(first) >= 2
    assert "".join(m.content for m in first) == TEXT
    ai = [m for m in status.messages if m.type == MessageType.MESSAGE_AI]
    assert [m.content for m in ai] == [TEXT, "The sandbox says provider-hello."]
    (call,) = status.tool_calls
    assert call.name == "execute"
    assert call.status == ToolCallStatus.TOOL_CALL_COMPLETED
    assert "provider-hello" in call.result
    # Usage per message and summed for the execution, as the provider reported it.
    assert [(m.usage.input_tokens, m.usage.output_tokens) for m in ai] == [(120, 30), (200, 12)]
    assert (status.usage.input_tokens, status.usage.output_tokens) == (320, 42)
    assert status.usage.total_tokens == 362
    assert len(chat_requests(provider)) == 2
    secret = getattr(provider, "api_key", "")
    if secret:
        assert secret not in str(status)
        assert secret not in runner.log()
        # The key travelled only in the auth header, never in a request body.
        assert all(secret.encode() not in r.body for r in provider.requests)


async def test_a_rate_limit_with_retry_after_is_retried_and_the_turn_completes(
    world: World, fake_anthropic: FakeAnthropic
) -> None:
    fake_anthropic.set_replies(SCRIPT)
    fake_anthropic.fail(Failure(429, message="slow down please", retry_after="0.5"))
    session = await provider_session(world, fake_anthropic)
    execution = await world.start(session, "What does the sandbox say?")
    final = await world.wait_final(execution.metadata.id)
    assert final.status.phase == ExecutionPhase.EXECUTION_COMPLETED, final.status.error
    # The retry cleared the first attempt's error (an empty string, per the status model).
    assert final.status.error == ""
    requests = chat_requests(fake_anthropic)
    # One refused request, then the two of the turn; the SDK itself does not retry.
    assert len(requests) == 3
    assert all(r.headers.get("x-stainless-retry-count", "0") == "0" for r in requests)
    assert [m.content for m in final.status.messages if m.type == MessageType.MESSAGE_AI][-1] == (
        "The sandbox says provider-hello."
    )


async def test_a_rejected_request_fails_the_turn_once_with_the_provider_message(
    world: World, fake_openai: FakeOpenAI
) -> None:
    fake_openai.set_replies(SCRIPT)
    fake_openai.fail(Failure(400, message="max_tokens is too large for gpt-test"))
    session = await provider_session(world, fake_openai)
    execution = await world.start(session, "What does the sandbox say?")
    final = await world.wait_final(execution.metadata.id)
    assert final.status.phase == ExecutionPhase.EXECUTION_FAILED
    assert "max_tokens is too large for gpt-test" in final.status.error
    assert "400" in final.status.error
    assert len(chat_requests(fake_openai)) == 1
    assert api_key(fake_openai) not in str(final.status)


async def test_a_sub_agent_on_the_provider_has_its_usage_summed_separately(
    world: World, fake_anthropic: FakeAnthropic
) -> None:
    fake_anthropic.set_replies(
        [
            Reply(
                tool_calls=(
                    ToolCall(
                        "task",
                        {"description": "Count the files here", "subagent_type": "researcher"},
                    ),
                ),
                input_tokens=50,
                output_tokens=10,
            ),
            Reply(
                text="The researcher found none.",
                expect="no files",
                input_tokens=70,
                output_tokens=8,
            ),
        ]
    )
    fake_anthropic.set_replies(
        [Reply(text="There are no files.", input_tokens=40, output_tokens=5)],
        when="Count the files here",
    )
    model, secret, plain = provider_session_env(fake_anthropic)
    session = await world.session(model, secrets_env=secret, plain_env=plain)
    execution = await world.start(session, "How many files?")
    final = await world.wait_final(execution.metadata.id)
    status = final.status
    assert status.phase == ExecutionPhase.EXECUTION_COMPLETED, status.error
    (sub,) = status.sub_agent_executions
    assert sub.result == "There are no files."
    assert (sub.usage.input_tokens, sub.usage.output_tokens) == (40, 5)
    # The execution's total includes the sub-agent's tokens.
    assert (status.usage.input_tokens, status.usage.output_tokens) == (160, 23)
