"""The model-provider fakes, proven with the real langchain clients and provider SDKs.

Each case runs against Anthropic, OpenAI and Ollama alike; where the clients differ (Ollama's
client has no retries, its errors are one class) the case says so.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import anthropic
import httpx
import ollama
import openai
import pytest
from langchain_anthropic import ChatAnthropic
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    HumanMessage,
    ToolMessage,
)
from langchain_core.runnables import Runnable
from langchain_core.tools import tool
from langchain_core.utils.function_calling import convert_to_openai_tool
from langchain_ollama import ChatOllama
from langchain_openai import ChatOpenAI
from pydantic import SecretStr

from stigmer_testing.fakes import (
    Failure,
    FakeAnthropic,
    FakeOllama,
    FakeOpenAI,
    Reply,
    ScriptedProvider,
    ToolCall,
)

pytestmark = pytest.mark.integration


@tool
def get_weather(city: str) -> str:
    """The weather in a city."""
    return f"sunny in {city}"


WEATHER_SCRIPT = (
    Reply(
        text="Let me check the weather for you.",
        tool_calls=(ToolCall("get_weather", {"city": "Paris"}),),
    ),
    Reply(text="It is sunny in Paris today.", expect="sunny in Paris"),
)


async def stream(
    model: Runnable[LanguageModelInput, BaseMessage], messages: list[BaseMessage]
) -> tuple[int, AIMessageChunk]:
    """(number of chunks, the chunks summed) of one streamed model call."""
    count, total = 0, None
    async for chunk in model.astream(messages):
        assert isinstance(chunk, AIMessageChunk)
        count += 1
        total = chunk if total is None else total + chunk
    assert total is not None
    return count, total


def text_of(message: BaseMessage) -> str:
    if isinstance(message.content, str):
        return message.content
    return "".join(block.get("text", "") for block in message.content if isinstance(block, dict))


async def run_weather_turn(fake: ScriptedProvider, model: BaseChatModel) -> AIMessageChunk:
    """Two calls: a tool call streamed in pieces, then the answer after the tool result."""
    fake.set_replies(WEATHER_SCRIPT)
    bound = model.bind_tools([get_weather])
    messages: list[BaseMessage] = [HumanMessage("What is the weather in Paris?")]

    count, first = await stream(bound, messages)
    assert count > 3, "the reply should arrive as several chunks"
    assert text_of(first) == "Let me check the weather for you."
    assert [(c["name"], c["args"]) for c in first.tool_calls] == [
        ("get_weather", {"city": "Paris"})
    ]
    assert first.usage_metadata is not None
    assert first.usage_metadata["input_tokens"] > 0
    assert first.usage_metadata["output_tokens"] > 0

    result = get_weather.invoke(first.tool_calls[0]["args"])
    messages += [first, ToolMessage(result, tool_call_id=first.tool_calls[0]["id"])]
    count, second = await stream(bound, messages)
    assert text_of(second) == "It is sunny in Paris today."
    assert count > 3
    assert not second.tool_calls
    return second


@dataclass(frozen=True)
class Provider:
    """How one provider's real client is pointed at its fake, and what it raises."""

    fixture: str
    model: Callable[[str, str, int], BaseChatModel]  # (fake's URL, API key, max retries)
    auth_headers: tuple[str, ...]
    retries: bool

    def build(
        self, fake: ScriptedProvider, *, api_key: str | None = None, max_retries: int = 2
    ) -> BaseChatModel:
        return self.model(fake.url, api_key or fake.api_key or "", max_retries)


def _anthropic(url: str, api_key: str, max_retries: int) -> BaseChatModel:
    return ChatAnthropic(  # type: ignore[call-arg]
        model_name="claude-fake", base_url=url, api_key=SecretStr(api_key), max_retries=max_retries
    )


def _openai(url: str, api_key: str, max_retries: int) -> BaseChatModel:
    return ChatOpenAI(
        model="gpt-fake",
        base_url=f"{url}/v1",
        api_key=SecretStr(api_key),
        stream_usage=True,
        max_retries=max_retries,
    )


def _ollama(url: str, api_key: str, max_retries: int) -> BaseChatModel:
    return ChatOllama(model="llama-fake", base_url=url)


_PROVIDER_ANTHROPIC = Provider("fake_anthropic", _anthropic, ("authorization", "x-api-key"), True)
_PROVIDER_OPENAI = Provider("fake_openai", _openai, ("authorization",), True)
_PROVIDER_OLLAMA = Provider("fake_ollama", _ollama, ("authorization",), False)
PROVIDERS = [
    pytest.param(_PROVIDER_ANTHROPIC, id="anthropic"),
    pytest.param(_PROVIDER_OPENAI, id="openai"),
    pytest.param(_PROVIDER_OLLAMA, id="ollama"),
]


def _fake(request: pytest.FixtureRequest, provider: Provider) -> ScriptedProvider:
    fake = request.getfixturevalue(provider.fixture)
    assert isinstance(fake, ScriptedProvider)
    return fake


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_streamed_turn_with_a_tool_call(
    request: pytest.FixtureRequest, provider: Provider
) -> None:
    fake = _fake(request, provider)
    await run_weather_turn(fake, provider.build(fake))

    first, second = [r.json() for r in fake.requests]
    assert first["stream"] is True
    assert "get_weather" in json.dumps(first["tools"]), "the bound tool reaches the provider"
    assert "sunny in Paris" in json.dumps(second["messages"]), "the tool result goes back"


@pytest.mark.parametrize("provider", PROVIDERS[:2])  # Ollama takes no API key
async def test_the_api_key_travels_only_in_the_auth_header(
    request: pytest.FixtureRequest, provider: Provider
) -> None:
    fake = _fake(request, provider)
    assert fake.api_key is not None
    await run_weather_turn(fake, provider.build(fake))

    for recorded in fake.requests:
        assert fake.api_key not in recorded.body.decode()
        assert fake.api_key not in recorded.path
        carriers = {name for name, value in recorded.headers.items() if fake.api_key in value}
        assert carriers, "the key is sent"
        assert carriers <= set(provider.auth_headers)


@pytest.mark.parametrize("provider", PROVIDERS[:2])  # ChatOllama always streams: see below
async def test_a_whole_reply_without_streaming(
    request: pytest.FixtureRequest, provider: Provider
) -> None:
    fake = _fake(request, provider)
    fake.set_replies(WEATHER_SCRIPT)
    model = provider.build(fake).bind_tools([get_weather])

    reply = await model.ainvoke([HumanMessage("What is the weather in Paris?")])

    assert isinstance(reply, AIMessage)
    assert text_of(reply) == "Let me check the weather for you."
    assert [(c["name"], c["args"]) for c in reply.tool_calls] == [
        ("get_weather", {"city": "Paris"})
    ]
    assert reply.usage_metadata is not None
    assert reply.usage_metadata["output_tokens"] > 0
    assert fake.requests[0].json().get("stream") in (False, None)


async def test_ollama_whole_reply_through_its_own_client(fake_ollama: FakeOllama) -> None:
    fake_ollama.set_replies(WEATHER_SCRIPT)
    client = ollama.AsyncClient(host=fake_ollama.url)

    reply = await client.chat(
        model="llama-fake",
        messages=[{"role": "user", "content": "weather?"}],
        tools=[convert_to_openai_tool(get_weather)],
        stream=False,
    )

    assert reply.message.content == "Let me check the weather for you."
    assert reply.message.tool_calls is not None
    assert [(c.function.name, dict(c.function.arguments)) for c in reply.message.tool_calls] == [
        ("get_weather", {"city": "Paris"})
    ]
    assert reply.prompt_eval_count
    assert reply.eval_count
    assert fake_ollama.requests[0].json()["stream"] is False


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_a_failed_expectation_is_answered_as_text(
    request: pytest.FixtureRequest, provider: Provider
) -> None:
    fake = _fake(request, provider)
    fake.set_replies([Reply(text="never sent", expect="the magic word")])

    _, reply = await stream(provider.build(fake), [HumanMessage("no such thing here")])

    assert text_of(reply).startswith("script expectation failed: expected 'the magic word'")
    assert "no such thing here" in text_of(reply)


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_past_the_script_the_reply_says_it_is_exhausted(
    request: pytest.FixtureRequest, provider: Provider
) -> None:
    fake = _fake(request, provider)
    fake.set_replies([Reply(text="only reply")])
    messages: list[BaseMessage] = [HumanMessage("hi"), AIMessage("earlier"), HumanMessage("again")]

    _, reply = await stream(provider.build(fake), messages)

    assert text_of(reply) == "script exhausted: no reply 1, the script has 1"


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_a_rate_limit_with_retry_after(
    request: pytest.FixtureRequest, provider: Provider
) -> None:
    fake = _fake(request, provider)
    fake.set_replies([Reply(text="after the wait")])
    fake.fail(Failure(429, message="slow down please", retry_after="0.2"))
    model = provider.build(fake)

    if provider.retries:
        _, reply = await stream(model, [HumanMessage("hi")])
        assert text_of(reply) == "after the wait"
        assert len(fake.requests) == 2
        assert fake.requests[1].headers["x-stainless-retry-count"] == "1"
    else:
        # Ollama's client never retries: the 429 reaches the caller, which decides.
        with pytest.raises(ollama.ResponseError, match="slow down please") as raised:
            await stream(model, [HumanMessage("hi")])
        assert raised.value.status_code == 429
        assert len(fake.requests) == 1


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_a_bad_request_fails_at_once_with_the_providers_message(
    request: pytest.FixtureRequest, provider: Provider
) -> None:
    fake = _fake(request, provider)
    fake.set_replies([Reply(text="never sent")])
    fake.fail(Failure(400, message="prompt is too long: 300000 tokens > 200000 maximum"))

    with pytest.raises(Exception, match="prompt is too long") as raised:
        await stream(provider.build(fake), [HumanMessage("hi")])

    expected = {
        "fake_anthropic": anthropic.BadRequestError,
        "fake_openai": openai.BadRequestError,
        "fake_ollama": ollama.ResponseError,
    }[provider.fixture]
    assert isinstance(raised.value, expected)
    assert len(fake.requests) == 1, "a 400 is not retried"


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_an_error_inside_a_stream_breaks_it_off_without_a_retry(
    request: pytest.FixtureRequest, provider: Provider
) -> None:
    fake = _fake(request, provider)
    fake.set_replies([Reply(text="I was saying", stream_error="Overloaded mid-stream")])
    seen: list[str] = []

    async def read_until_it_breaks() -> None:
        async for chunk in provider.build(fake).astream([HumanMessage("hi")]):
            seen.append(text_of(chunk))

    with pytest.raises(Exception, match="Overloaded mid-stream") as raised:
        await read_until_it_breaks()

    expected = {
        "fake_anthropic": anthropic.APIStatusError,
        "fake_openai": openai.APIError,
        "fake_ollama": ollama.ResponseError,
    }[provider.fixture]
    assert isinstance(raised.value, expected)
    assert "I was saying" in "".join(seen), "the text before the error was delivered"
    assert len(fake.requests) == 1


@pytest.mark.parametrize("provider", PROVIDERS[:2])
async def test_a_wrong_api_key_is_refused(
    request: pytest.FixtureRequest, provider: Provider
) -> None:
    fake = _fake(request, provider)
    fake.set_replies([Reply(text="never sent")])
    model = provider.build(fake, api_key="sk-wrong")

    with pytest.raises((anthropic.AuthenticationError, openai.AuthenticationError)):
        await stream(model, [HumanMessage("hi")])
    assert len(fake.requests) == 1


async def test_anthropic_overloaded_is_retried_and_gives_up_without_retries(
    fake_anthropic: FakeAnthropic,
) -> None:
    fake_anthropic.set_replies([Reply(text="made it")])
    fake_anthropic.fail(Failure(529, message="Overloaded", retry_after="0.1"))
    _, reply = await stream(_PROVIDER_ANTHROPIC.build(fake_anthropic), [HumanMessage("hi")])
    assert text_of(reply) == "made it"

    fake_anthropic.fail(Failure(529, message="Overloaded"))
    with pytest.raises(anthropic.InternalServerError, match="Overloaded") as raised:
        await stream(_PROVIDER_ANTHROPIC.build(fake_anthropic, max_retries=0), [HumanMessage("hi")])
    assert raised.value.status_code == 529
    assert len(fake_anthropic.requests) == 3


async def test_openai_sends_usage_only_when_asked(fake_openai: FakeOpenAI) -> None:
    fake_openai.set_replies([Reply(text="no usage here", input_tokens=11, output_tokens=7)] * 2)
    quiet = ChatOpenAI(
        model="gpt-fake",
        base_url=f"{fake_openai.url}/v1",
        api_key=SecretStr("sk-openai-fake-secret"),
    )
    _, reply = await stream(quiet, [HumanMessage("hi")])
    assert reply.usage_metadata is None
    assert "stream_options" not in fake_openai.requests[0].json()

    _, reply = await stream(_PROVIDER_OPENAI.build(fake_openai), [HumanMessage("hi")])
    assert reply.usage_metadata is not None
    assert (reply.usage_metadata["input_tokens"], reply.usage_metadata["output_tokens"]) == (11, 7)


async def test_anthropic_counts_tokens(fake_anthropic: FakeAnthropic) -> None:
    model = _PROVIDER_ANTHROPIC.build(fake_anthropic)
    assert isinstance(model, ChatAnthropic)

    short = model.get_num_tokens_from_messages([HumanMessage("hi")])
    long = model.get_num_tokens_from_messages([HumanMessage("hi " * 400)])

    assert 0 < short < long
    assert fake_anthropic.requests[0].path == "/v1/messages/count_tokens"


async def test_a_chunked_request_body_is_read_whole(fake_openai: FakeOpenAI) -> None:
    fake_openai.set_replies([Reply(text="got it")])
    payload = json.dumps({"model": "m", "messages": [{"role": "user", "content": "hi"}]})

    async def pieces() -> AsyncIterator[bytes]:
        for start in range(0, len(payload), 10):
            yield payload[start : start + 10].encode()

    async with httpx.AsyncClient() as client:
        response = await client.post(
            f"{fake_openai.url}/v1/chat/completions",
            content=pieces(),
            headers={"authorization": f"Bearer {fake_openai.api_key}"},
        )

    assert fake_openai.requests[0].headers["transfer-encoding"] == "chunked"
    assert fake_openai.requests[0].json()["messages"][0]["content"] == "hi"
    assert response.json()["choices"][0]["message"]["content"] == "got it"


async def test_the_part_listener_sees_each_streamed_part_as_it_is_sent(
    fake_openai: FakeOpenAI,
) -> None:
    fake_openai.set_replies([Reply(text="one two three")])
    sent: list[tuple[str, bytes]] = []
    fake_openai.part_listener = lambda request, part: sent.append((request.path, part))

    _, reply = await stream(_PROVIDER_OPENAI.build(fake_openai), [HumanMessage("hi")])

    assert text_of(reply) == "one two three"
    assert {path for path, _ in sent} == {"/v1/chat/completions"}
    assert sent[-1][1] == b"data: [DONE]\n\n"
    pieces = [json.loads(part[len(b"data: ") :]) for _, part in sent[:-1]]
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in pieces if c["choices"])
    assert text == "one two three"
