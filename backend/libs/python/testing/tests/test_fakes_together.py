"""A deep agent turn on the fakes alone: a scripted provider drives tools in a fake Daytona
sandbox. This is the path the agent-runner takes with `SANDBOX_TYPE=daytona`, minus Temporal."""

from __future__ import annotations

import pytest
from daytona import CreateSandboxFromSnapshotParams, Daytona, DaytonaConfig
from deepagents import create_deep_agent
from langchain_anthropic import ChatAnthropic
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_daytona import DaytonaSandbox  # type: ignore[import-untyped]
from langchain_openai import ChatOpenAI
from pydantic import SecretStr

from stigmer_testing.fakes import FakeAnthropic, FakeDaytona, FakeOpenAI, Reply, ToolCall

pytestmark = pytest.mark.integration


async def test_a_deep_agent_turn_runs_its_tools_in_the_fake_sandbox(
    fake_anthropic: FakeAnthropic, fake_daytona: FakeDaytona
) -> None:
    daytona = Daytona(
        DaytonaConfig(api_key=fake_daytona.api_key, api_url=fake_daytona.api_url, target="us")
    )
    sandbox = daytona.create(CreateSandboxFromSnapshotParams(snapshot="stigmer-base"))
    workdir = sandbox.get_work_dir()
    fake_anthropic.set_replies(
        [
            Reply(
                tool_calls=(
                    ToolCall("write_file", {"file_path": f"{workdir}/notes.md", "content": "42\n"}),
                )
            ),
            Reply(tool_calls=(ToolCall("execute", {"command": "cat notes.md; echo done"}),)),
            Reply(text="The answer is 42.", expect="42\ndone"),
        ]
    )
    model = ChatAnthropic(  # type: ignore[call-arg]
        model_name="claude-fake",
        base_url=fake_anthropic.url,
        api_key=SecretStr(fake_anthropic.api_key or ""),
        max_retries=0,
    )
    agent = create_deep_agent(
        model=model, backend=DaytonaSandbox(sandbox=sandbox, sync_polling_interval=0.05)
    )

    result = await agent.ainvoke({"messages": [HumanMessage("What is in the notes?")]})

    messages = result["messages"]
    assert isinstance(messages[-1], AIMessage)
    assert messages[-1].text == "The answer is 42."
    tool_results = [m.content for m in messages if isinstance(m, ToolMessage)]
    assert len(tool_results) == 2
    assert "42" in str(tool_results[1])
    assert (fake_daytona.sandbox(sandbox.id).root / "notes.md").read_text() == "42\n"
    assert len(fake_anthropic.requests) == 3
    assert len(fake_daytona.requests_to("POST", "/api/sandbox")) == 1


async def test_a_sub_agent_follows_its_own_script(
    fake_openai: FakeOpenAI, fake_daytona: FakeDaytona
) -> None:
    daytona = Daytona(
        DaytonaConfig(api_key=fake_daytona.api_key, api_url=fake_daytona.api_url, target="us")
    )
    sandbox = daytona.create(CreateSandboxFromSnapshotParams(snapshot="stigmer-base"))
    task = {"description": "Count the files in the work dir.", "subagent_type": "general-purpose"}
    fake_openai.set_replies(
        [
            Reply(tool_calls=(ToolCall("task", task),)),
            Reply(text="The helper counted 0 files.", expect="0 files"),
        ]
    )
    fake_openai.set_replies(
        [
            Reply(tool_calls=(ToolCall("execute", {"command": "ls | wc -l"}),)),
            Reply(text="There are 0 files.", expect="0"),
        ],
        when="Count the files in the work dir.",
    )
    model = ChatOpenAI(
        model="gpt-fake",
        base_url=f"{fake_openai.url}/v1",
        api_key=SecretStr(fake_openai.api_key or ""),
        stream_usage=True,
        max_retries=0,
    )
    agent = create_deep_agent(
        model=model, backend=DaytonaSandbox(sandbox=sandbox, sync_polling_interval=0.05)
    )

    result = await agent.ainvoke({"messages": [HumanMessage("How many files are there?")]})

    assert result["messages"][-1].text == "The helper counted 0 files."
    assert len(fake_openai.requests) == 4, "two main-agent calls and two sub-agent calls"
    first_user = [
        next(m["content"] for m in r.json()["messages"] if m["role"] == "user")
        for r in fake_openai.requests
    ]
    assert first_user.count(task["description"]) == 2, "the sub-agent's own conversation"
