"""Regenerate the recorded stream items the status-builder tests replay.

Runs real deepagents turns with the scripted model in a local sandbox (no network) and
writes every `astream(..., subgraphs=True)` item to `<scenario>.jsonl` next to this file:

    .venv/bin/python backend/services/agent-runner/tests/recordings/record.py
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path
from typing import Any

from langchain_core.messages import HumanMessage
from langgraph.checkpoint.memory import InMemorySaver

from agent_runner.agent import RECURSION_LIMIT, AgentPlan, build_agent
from agent_runner.environment import Redactor
from agent_runner.models import DefaultModelFactory, ProviderDefaults
from agent_runner.sandbox import LocalSandboxProvider, LocalSandboxSettings, SandboxRequest
from agent_runner.skills import SkillEntry, write_skills
from agent_runner.status import STREAM_MODES
from ai.stigmer.agentic.agent.v1.api_pb2 import Agent

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from codec import write_items  # noqa: E402

SECRET = "s3cr3t-token-value"
HELLO = SkillEntry(
    slug="hello-world",
    name="hello-world",
    description="Greets the world.",
    content="---\nname: hello-world\ndescription: Greets the world.\n---\nSay hello.\n",
)
SCENARIOS: dict[str, dict[str, Any]] = {
    # The shipped demo: todos, execute, a skill file, a sub-agent, the final answer.
    "demo": {"model": "scripted:demo", "env": {}, "secrets": [], "message": "Show me the demo."},
    # A failing command, a secret in tool output and in streamed text.
    "failure-and-secret": {
        "model": f"scripted:{HERE / 'failure-and-secret.yaml'}",
        "env": {"API_TOKEN": SECRET},
        "secrets": [SECRET],
        "message": "Check the token.",
    },
}


async def record(name: str, scenario: dict[str, Any], root: Path) -> None:
    provider = LocalSandboxProvider(
        LocalSandboxSettings(
            root=root, command_timeout=30, max_output_bytes=10_000, isolation="none", network=False
        )
    )
    redact = Redactor(scenario["secrets"])
    sandbox = await provider.acquire(
        SandboxRequest(session_id=name, sandbox_id="", env=scenario["env"], redact=redact)
    )
    await write_skills(sandbox.backend, [HELLO])
    agent = Agent()
    agent.spec.model = scenario["model"]
    agent.spec.instructions = "You are the recording agent."
    sub = agent.spec.sub_agents.add(name="researcher", description="Researches the sandbox.")
    sub.instructions = "You research things."
    graph = build_agent(
        agent=agent,
        plan=AgentPlan(model=scenario["model"], skills=[HELLO], subagent_skills={}),
        models=DefaultModelFactory(ProviderDefaults()),
        env=scenario["env"],
        backend=sandbox.backend,
        checkpointer=InMemorySaver(),
    )
    items: list[tuple[tuple[str, ...], str, Any]] = []
    async for namespace, mode, payload in graph.astream(
        {"messages": [HumanMessage(content=scenario["message"], id="exec-1-human")]},
        {"configurable": {"thread_id": name}, "recursion_limit": RECURSION_LIMIT},
        stream_mode=list(STREAM_MODES),
        subgraphs=True,
        durability="sync",
    ):
        items.append((tuple(namespace), str(mode), payload))
    write_items(HERE / f"{name}.jsonl", items)
    print(f"{name}: {len(items)} items")


async def main() -> None:
    with tempfile.TemporaryDirectory() as root:
        for name, scenario in SCENARIOS.items():
            await record(name, scenario, Path(root))


if __name__ == "__main__":
    asyncio.run(main())
