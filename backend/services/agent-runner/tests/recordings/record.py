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
from langchain_core.runnables import RunnableConfig
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
    # Two sub-agents at once, and a `task` naming a sub-agent that does not exist.
    "parallel-subagents": {
        "model": f"scripted:{HERE / 'parallel-subagents.yaml'}",
        "env": {},
        "secrets": [],
        "message": "Ask two researchers.",
    },
    # Two commands at once; the sandbox raises on one (the stream ends with that error).
    "parallel-tool-error": {
        "model": f"scripted:{HERE / 'parallel-tool-error.yaml'}",
        "env": {},
        "secrets": [],
        "message": "Run both.",
        "explode": "explode",
    },
    # A sub-agent's command aborts the first attempt; a second attempt resumes the turn.
    "resume-in-subagent": {
        "model": f"scripted:{HERE / 'resume-in-subagent.yaml'}",
        "env": {},
        "secrets": [],
        "message": "Ask the researcher.",
        "explode": "echo second-look",
        "resume": True,
    },
}


class SandboxGone(RuntimeError):
    """What a sandbox backend raises when it cannot run a command at all."""


def exploding(backend: Any, command: str, *, once: bool) -> None:
    """Make `backend.aexecute(command)` raise (the first time only, with `once`), as a
    sandbox that went away would."""
    run = backend.aexecute
    exploded: list[str] = []

    async def aexecute(cmd: str, *, timeout: int | None = None) -> Any:  # noqa: ASYNC109
        if cmd == command and not (once and exploded):
            exploded.append(cmd)
            raise SandboxGone("the sandbox went away")
        return await run(cmd, timeout=timeout)

    backend.aexecute = aexecute


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
    if "explode" in scenario:
        exploding(sandbox.backend, scenario["explode"], once=scenario.get("resume", False))
    agent = Agent()
    agent.spec.model = scenario["model"]
    agent.spec.instructions = "You are the recording agent."
    sub = agent.spec.sub_agents.add(name="researcher", description="Researches the sandbox.")
    sub.instructions = "You research things."
    graph = build_agent(
        agent=agent,
        plan=AgentPlan(model=scenario["model"], skills=[HELLO], subagent_skills={}),
        models=DefaultModelFactory(ProviderDefaults(scripts_dir=HERE)),
        env=scenario["env"],
        backend=sandbox.backend,
        checkpointer=InMemorySaver(),
    )
    config: RunnableConfig = {
        "configurable": {"thread_id": name},
        "recursion_limit": RECURSION_LIMIT,
    }
    message = HumanMessage(content=scenario["message"], id="exec-1-human")
    items = await stream(graph, {"messages": [message]}, config, name)
    if not scenario.get("resume"):
        write_items(HERE / f"{name}.jsonl", items)
        print(f"{name}: {len(items)} items")
        return
    # What a resumed attempt reads first (turn.py seeds the builder from it), then its stream.
    state = await graph.aget_state(config)
    messages = state.values["messages"]
    after_human = [m.id for m in messages].index(message.id) + 1
    checkpoint: list[tuple[tuple[str, ...], str, Any]] = [
        (
            (),
            "checkpoint",
            {"messages": messages[after_human:], "todos": state.values.get("todos") or []},
        )
    ]
    resumed = await stream(graph, None, config, name)
    write_items(HERE / f"{name}.attempt-1.jsonl", items)
    write_items(HERE / f"{name}.checkpoint.jsonl", checkpoint)
    write_items(HERE / f"{name}.attempt-2.jsonl", resumed)
    print(f"{name}: {len(items)} + {len(resumed)} items")


async def stream(
    graph: Any, turn_input: Any, config: RunnableConfig, name: str
) -> list[tuple[tuple[str, ...], str, Any]]:
    items: list[tuple[tuple[str, ...], str, Any]] = []
    try:
        async for namespace, mode, payload in graph.astream(
            turn_input,
            config,
            stream_mode=list(STREAM_MODES),
            subgraphs=True,
            durability="sync",
        ):
            items.append((tuple(namespace), str(mode), payload))
    except SandboxGone as exc:
        print(f"{name}: the stream ended with {exc!r}, as scripted")
    return items


async def main() -> None:
    with tempfile.TemporaryDirectory() as root:
        for name, scenario in SCENARIOS.items():
            await record(name, scenario, Path(root))


if __name__ == "__main__":
    asyncio.run(main())
