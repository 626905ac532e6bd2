"""The scripted model stays on its script across deepagents' summarization (a real run).

deepagents 0.7.32 summarizes when the conversation sent to a model without a profile
reaches 170,000 tokens (`compute_summarization_defaults`: trigger ("tokens", 170000), keep
the last 6 messages), counted approximately (about 4 characters a token). Twelve commands
printing 60 KB each cross it; the turn must still play every reply once and end with the
script's last text, and the status built from the stream must not mix the summary call's
tokens into a reply.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage
from langgraph.checkpoint.memory import InMemorySaver

from agent_runner.agent import RECURSION_LIMIT, AgentPlan, build_agent
from agent_runner.environment import Redactor
from agent_runner.models import DefaultModelFactory, ProviderDefaults
from agent_runner.sandbox import LocalSandboxProvider, LocalSandboxSettings, SandboxRequest
from agent_runner.status import STREAM_MODES, StatusBuilder
from ai.stigmer.agentic.agent.v1.api_pb2 import Agent
from ai.stigmer.agentic.agentexecution.v1.enum_pb2 import (
    ExecutionPhase,
    MessageType,
    ToolCallStatus,
)

CALLS = 12
FINAL = "All twelve commands printed their 60 KB."


def script() -> str:
    replies = [
        f"""  - text: "Command {i} prints."
    tool_calls:
      - name: execute
        args: {{command: "head -c 60000 /dev/zero | tr '\\\\0' {chr(97 + i)}"}}"""
        for i in range(CALLS)
    ]
    return "replies:\n" + "\n".join(replies) + f'\n  - text: "{FINAL}"\n'


@pytest.mark.timeout(300)
async def test_a_summarized_turn_plays_its_script_to_the_end(tmp_path: Path) -> None:
    path = tmp_path / "twelve.yaml"
    path.write_text(script())
    model = f"scripted:{path}"
    provider = LocalSandboxProvider(
        LocalSandboxSettings(
            root=tmp_path / "sandboxes",
            command_timeout=60,
            max_output_bytes=100_000,
            isolation="none",
            network=False,
        )
    )
    sandbox = await provider.acquire(
        SandboxRequest(session_id="summ", sandbox_id="", env={}, redact=Redactor([]))
    )
    agent = Agent()
    agent.spec.model = model
    graph = build_agent(
        agent=agent,
        plan=AgentPlan(model=model, skills=[], subagent_skills={}),
        models=DefaultModelFactory(ProviderDefaults(scripts_dir=tmp_path)),
        env={},
        backend=sandbox.backend,
        checkpointer=InMemorySaver(),
    )
    builder = StatusBuilder(redact=Redactor([]))
    builder.start(message_id="exec-1-human", message="Print a lot.", first_attempt=True)
    config: Any = {"configurable": {"thread_id": "summ"}, "recursion_limit": RECURSION_LIMIT}
    summary_chunks = 0
    stream: Any = graph.astream(
        {"messages": [HumanMessage(content="Print a lot.", id="exec-1-human")]},
        config,
        stream_mode=list(STREAM_MODES),
        subgraphs=True,
        durability="sync",
    )
    async for namespace, mode, payload in stream:
        if mode == "messages" and payload[1].get("lc_source") == "summarization":
            summary_chunks += 1
        builder.handle(namespace, mode, payload)
    builder.finish(ExecutionPhase.EXECUTION_COMPLETED)

    state = await graph.aget_state(config)
    # Summarization really happened: the model was asked for a summary, and the
    # conversation it sees from then on starts with that summary.
    event = state.values.get("_summarization_event")
    assert event is not None
    assert summary_chunks > 0
    # The summary call got the model's summary, not a reply of the script.
    assert "The scripted model (main) summarizes" in str(event["summary_message"].content)
    replies = [m for m in state.values["messages"] if isinstance(m, AIMessage)]
    assert [m.id for m in replies] == [f"main-reply-{i}" for i in range(CALLS + 1)]
    assert replies[-1].text == FINAL

    status = builder.final_status()
    assert [c.status for c in status.tool_calls] == [ToolCallStatus.TOOL_CALL_COMPLETED] * CALLS
    texts = [m.content for m in status.messages if m.type == MessageType.MESSAGE_AI]
    assert texts == [f"Command {i} prints." for i in range(CALLS)] + [FINAL]
