"""The scripted model follows the script contract of ARCHITECTURE section 7."""

from __future__ import annotations

from pathlib import Path

import pytest
from langchain.agents.middleware.summarization import DEFAULT_SUMMARY_PROMPT
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    HumanMessage,
    SystemMessage,
    ToolCall,
    ToolMessage,
)

from agent_runner.models import (
    EXPECTATION_FAILED,
    DefaultModelFactory,
    ModelSpecError,
    ProviderDefaults,
    ScriptedChatModel,
    ScriptError,
    load_script,
    parse_script,
    split_model_spec,
    unscripted_subagent_text,
)

SCRIPT = """
replies:
  - tool_calls:
      - {name: execute, args: {command: "ls -la"}}
  - text: "Here is what I found in the listing."
    expect: "ls"
subagents:
  researcher:
    replies:
      - text: "sub-agent answer"
"""


def model() -> ScriptedChatModel:
    return ScriptedChatModel(script=parse_script(SCRIPT, name="t"), speaker="main")


async def test_reply_i_answers_the_call_that_sees_i_ai_messages() -> None:
    first = await model().ainvoke([HumanMessage("go")])
    assert first.tool_calls == [
        {
            "name": "execute",
            "args": {"command": "ls -la"},
            "id": "main-call-0-0",
            "type": "tool_call",
        }
    ]
    history = [
        HumanMessage("go"),
        first,
        ToolMessage("total 0 ls output", tool_call_id="main-call-0-0"),
    ]
    second = await model().ainvoke(history)
    assert second.text == "Here is what I found in the listing."
    # The same position gives the same reply: a resumed or replayed call is deterministic.
    assert (await model().ainvoke(history)).text == second.text


LONG = "replies:\n" + "".join(f'  - text: "reply {i}"\n' for i in range(12))


def long_model(speaker: str = "main") -> ScriptedChatModel:
    return ScriptedChatModel(script=parse_script(LONG, name="long"), speaker=speaker)


async def test_after_summarization_the_ids_it_kept_give_the_position() -> None:
    # What deepagents hands the model once it summarized: the summary, then the last messages.
    compacted = [
        SystemMessage("You are a test agent."),
        HumanMessage("You are in the middle of a conversation that has been summarized."),
        AIMessage("", id="main-reply-9", tool_calls=[tool_call("main-call-9-0")]),
        ToolMessage("output", tool_call_id="main-call-9-0"),
        AIMessage("reply 10", id="main-reply-10"),
        HumanMessage("go on"),
    ]
    assert (await long_model().ainvoke(compacted)).text == "reply 11"
    # Only tool results kept: their call ids still say where the script is.
    results_only = [compacted[1], ToolMessage("output", tool_call_id="main-call-4-1")]
    assert (await long_model().ainvoke(results_only)).text == "reply 5"


async def test_without_ids_of_its_own_the_count_of_ai_messages_gives_the_position() -> None:
    foreign = [HumanMessage("hi"), AIMessage("from another model", id="run-abc"), HumanMessage("x")]
    assert (await long_model().ainvoke(foreign)).text == "reply 1"
    # Another speaker's ids are not ours: a sub-agent keeps its own count.
    mixed = [HumanMessage("hi"), AIMessage("", id="main-reply-7"), HumanMessage("x")]
    assert (await long_model("researcher").ainvoke(mixed)).text == "reply 1"


@pytest.mark.parametrize("streaming", [True, False])
async def test_a_summary_request_gets_a_summary_and_takes_no_reply(streaming: bool) -> None:
    request = [HumanMessage(DEFAULT_SUMMARY_PROMPT.format(messages="<the history>"))]
    history = [HumanMessage("go"), AIMessage("", id="main-reply-3")]
    if streaming:  # the graph's path: langchain gives the model no run manager there
        chunks = [c async for c in long_model().astream(request)]
        message_id, text = chunks[0].id, "".join(c.text for c in chunks)
    else:
        summary = await long_model().ainvoke(
            request, config={"metadata": {"lc_source": "summarization"}}
        )
        message_id, text = summary.id, summary.text
    assert message_id == "main-summary-0"
    assert text.startswith("The scripted model (main) summarizes the conversation")
    assert (await long_model().ainvoke(history)).text == "reply 4"


def tool_call(call_id: str) -> ToolCall:
    return ToolCall(name="execute", args={"command": "true"}, id=call_id)


async def test_text_is_streamed_in_chunks_with_usage_on_the_last() -> None:
    history = [HumanMessage("go"), AIMessage("x"), ToolMessage("ls", tool_call_id="1")]
    chunks = [c async for c in model().astream(history)]
    assert all(isinstance(c, AIMessageChunk) for c in chunks)
    assert len(chunks) > 3
    assert "".join(c.text for c in chunks) == "Here is what I found in the listing."
    assert chunks[-1].usage_metadata is not None
    assert len({c.id for c in chunks}) == 1


async def test_expectation_failure_says_so() -> None:
    history = [HumanMessage("go"), AIMessage("x"), ToolMessage("nothing", tool_call_id="1")]
    reply = await model().ainvoke(history)
    assert reply.text.startswith(EXPECTATION_FAILED)
    assert "'ls'" in reply.text


async def test_past_the_end_the_script_is_exhausted() -> None:
    history = [
        HumanMessage("a"),
        AIMessage("1"),
        HumanMessage("b"),
        AIMessage("2"),
        HumanMessage("c"),
    ]
    reply = await model().ainvoke(history)
    assert "exhausted" in reply.text
    assert not reply.tool_calls


async def test_sub_agents_get_their_own_script_or_a_fixed_text() -> None:
    factory = DefaultModelFactory(ProviderDefaults())
    demo_researcher = factory.chat_model("scripted:demo", env={}, subagent="researcher")
    first = await demo_researcher.ainvoke([HumanMessage("task")])
    assert first.tool_calls[0]["args"] == {"command": "uname -s"}
    assert first.tool_calls[0]["id"] == "researcher-call-0-0"
    other = factory.chat_model("scripted:demo", env={}, subagent="general-purpose")
    reply = await other.ainvoke([HumanMessage("task")])
    assert reply.text == unscripted_subagent_text("general-purpose")


def test_script_files_load_by_path(tmp_path: Path) -> None:
    path = tmp_path / "turn.yaml"
    path.write_text(SCRIPT)
    assert load_script(str(path), scripts_dir=tmp_path).replies[1].expect == "ls"
    # A relative path is taken below the scripts directory.
    assert load_script("turn.yaml", scripts_dir=tmp_path).name == "turn"


def test_script_files_outside_the_scripts_directory_are_never_read(tmp_path: Path) -> None:
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    # A YAML file holding a secret, beside the scripts directory, reached in three ways.
    outside = tmp_path / "host-secrets.yaml"
    outside.write_text("replies: [{text: sk-ant-host-secret-value}]\n")
    (scripts / "link.yaml").symlink_to(outside)
    for ref in (str(outside), "../host-secrets.yaml", "link.yaml"):
        with pytest.raises(ScriptError, match="outside the runner's scripts directory") as caught:
            load_script(ref, scripts_dir=scripts)
        assert "sk-ant-host-secret-value" not in str(caught.value)
        assert "STIGMER_SCRIPTS_DIR" in str(caught.value)
    # Without a scripts directory no file is read at all; shipped scripts still play.
    with pytest.raises(ScriptError, match=r"reads none \(STIGMER_SCRIPTS_DIR is not set\)"):
        load_script(str(outside))
    assert load_script("demo").name == "demo"
    factory = DefaultModelFactory(ProviderDefaults(scripts_dir=scripts))
    with pytest.raises(ScriptError, match="outside"):
        factory.chat_model(f"scripted:{outside}", env={})


def test_a_script_that_is_not_yaml_is_reported_without_its_lines(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("replies:\n  - text: fine\n  secret-line-0e44: [unclosed\n")
    with pytest.raises(ScriptError, match=r"not valid YAML at line \d+, column \d+") as caught:
        load_script(str(path), scripts_dir=tmp_path)
    assert "secret-line-0e44" not in str(caught.value)
    assert "unclosed" not in str(caught.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("replies: {}", "replies must be a list"),
        ("replies: [{}]", r"replies\[0\] needs a non-empty text or tool_calls"),
        ("replies: [{tool_calls: [{args: {}}]}]", r"replies\[0\]\.tool_calls\[0\]\.name"),
        ("replies: [{text: hi, colour: red}]", r"unknown key\(s\) \['colour'\]"),
        ("subagents: {r: {replies: [{}]}}\nreplies: []", r"subagents\.r\.replies\[0\]"),
    ],
)
def test_bad_scripts_name_the_field(text: str, message: str) -> None:
    with pytest.raises(ScriptError, match=message):
        parse_script(text, name="bad")


def test_unknown_shipped_script_lists_the_known_ones() -> None:
    with pytest.raises(ScriptError, match=r"no shipped script named 'nope'.*'demo'"):
        load_script("nope")


def test_model_strings() -> None:
    assert split_model_spec("ollama:qwen2.5-coder:7b") == ("ollama", "qwen2.5-coder:7b")
    assert split_model_spec("claude-sonnet-4.5") == ("anthropic", "claude-sonnet-4.5")
    assert split_model_spec("openai:gpt-4.1") == ("openai", "gpt-4.1")
    with pytest.raises(ModelSpecError, match="expected 'anthropic:<model>'"):
        split_model_spec("mystery-model")


def test_a_provider_without_a_key_names_the_variable() -> None:
    factory = DefaultModelFactory(ProviderDefaults())
    with pytest.raises(ModelSpecError, match="needs ANTHROPIC_API_KEY"):
        factory.chat_model("anthropic:claude-sonnet-4.5", env={})
    built = factory.chat_model("openai:gpt-4.1", env={"OPENAI_API_KEY": "sk-test"})
    assert built._llm_type == "openai-chat"
