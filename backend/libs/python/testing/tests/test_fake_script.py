"""How the provider fakes pick a reply; unit tests, no server is started."""

from __future__ import annotations

import pytest

from stigmer_testing.fakes import Failure, FakeOpenAI, RecordedRequest, Reply, ToolCall
from stigmer_testing.fakes._script import Conversation, text_chunks


def _conversation(assistant_messages: int, last_input: str = "") -> Conversation:
    return Conversation(assistant_messages, last_input, size=len(last_input))


def test_reply_i_answers_the_conversation_holding_i_assistant_messages() -> None:
    fake = FakeOpenAI([Reply(text="first"), Reply(text="second")])

    assert fake.reply_for(_conversation(0)).text == "first"
    assert fake.reply_for(_conversation(1)).text == "second"
    assert fake.reply_for(_conversation(1)).text == "second", "a retry gets the same reply"
    assert fake.reply_for(_conversation(2)).text == "script exhausted: no reply 2, the script has 2"


def test_an_unmet_expectation_is_answered_as_text_naming_it() -> None:
    fake = FakeOpenAI([Reply(text="done", expect="exit 0")])

    assert fake.reply_for(_conversation(0, "ran: exit 0")).text == "done"
    failed = fake.reply_for(_conversation(0, "ran: exit 1")).text
    assert failed.startswith("script expectation failed: expected 'exit 0'")
    assert "ran: exit 1" in failed


def test_replies_load_from_the_scripted_model_format() -> None:
    reply = Reply.from_mapping(
        {"tool_calls": [{"name": "execute", "args": {"command": "ls"}}], "expect": "x"}
    )

    assert reply == Reply(tool_calls=(ToolCall("execute", {"command": "ls"}),), expect="x")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"txt": "typo"}, r"unknown keys \['txt'\]"),
        ({"tool_calls": [{"args": {}}]}, "tool_calls entry must be a mapping with a name"),
    ],
)
def test_a_malformed_reply_names_what_is_wrong(data: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Reply.from_mapping(data)


def test_text_streams_in_word_sized_pieces_that_add_up() -> None:
    text = "It is  sunny\nin Paris."

    pieces = text_chunks(text)

    assert pieces == ["It ", "is  ", "sunny\n", "in ", "Paris."]
    assert "".join(pieces) == text


def _request(path: str) -> RecordedRequest:
    body = b'{"messages": [{"role": "user", "content": "hi"}]}'
    return RecordedRequest("POST", path, {}, {}, body)


def test_failures_are_used_in_order_and_only_on_matching_requests() -> None:
    fake = FakeOpenAI([Reply(text="ok")])
    fake.fail(Failure(500, path="/elsewhere"))
    fake.fail(Failure(429, message="slow down", retry_after="2", count=2))

    statuses = [fake.dispatch(_request("/v1/chat/completions")).status for _ in range(3)]

    assert statuses == [429, 429, 200]
    assert fake.dispatch(_request("/elsewhere")).status == 500
    assert len(fake.requests) == 4


def test_a_failure_carries_retry_after_and_the_providers_error_body() -> None:
    fake = FakeOpenAI()
    fake.fail(Failure(429, message="slow down", retry_after="0.5"))

    response = fake.dispatch(_request("/v1/chat/completions"))

    assert response.headers["retry-after"] == "0.5"
    assert b'"message": "slow down"' in b"".join(response.parts)


def test_a_failure_count_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match=r"Failure\.count must be at least 1, got 0"):
        FakeOpenAI().fail(Failure(500, count=0))


def test_a_conversation_opening_with_a_when_text_gets_its_own_script() -> None:
    fake = FakeOpenAI([Reply(text="main")])
    fake.set_replies([Reply(text="researcher")], when="research the weather")

    def reply_to(opening: str) -> str:
        return fake.reply_for(Conversation(0, "", 0, opening)).text

    assert reply_to("You help.\nresearch the weather in Paris") == "researcher"
    assert reply_to("You help.\nsomething else") == "main"
