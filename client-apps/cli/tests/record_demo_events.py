"""Records the `subscribe` events of real turns, for the live view snapshot test.

Not a test: run it against a running local system (any STIGMER_HOME); it applies the
examples plus three scenario agents on scripted models, runs one turn of each, and writes
`<scenario>_events.jsonl` into the directory given (only the scenarios named after it, when
any are). Then regenerate the snapshots
(STIGMER_UPDATE_SNAPSHOTS=1 pytest client-apps/cli/tests/test_live_view_snapshot.py), read
their diff, and commit both:

    .venv/bin/python client-apps/cli/tests/record_demo_events.py client-apps/cli/tests/data
"""

from __future__ import annotations

import os
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from google.protobuf import json_format

from ai.stigmer.agentic.agent.v1.spec_pb2 import ApprovalDecisionType
from ai.stigmer.agentic.agentexecution.v1.api_pb2 import AgentExecution
from ai.stigmer.agentic.agentexecution.v1.enum_pb2 import ExecutionPhase, ToolCallStatus
from ai.stigmer.agentic.agentexecution.v1.io_pb2 import (
    AgentExecutionEvent,
    SubscribeAgentExecutionRequest,
    ToolCallDecision,
    ToolCallDecisions,
)
from ai.stigmer.agentic.agentexecution.v1.query_pb2_grpc import AgentExecutionQueryControllerStub
from ai.stigmer.agentic.agentexecution.v1.spec_pb2 import AgentExecutionSpec
from stigmer_cli._client import Resources, open_channel, resolve_config
from stigmer_cli._kinds import AGENT_INSTANCE, API_VERSION, EXECUTION
from stigmer_cli.local._layout import default_home
from stigmer_cli.manifest import apply, load

REPO = Path(__file__).resolve().parents[3]
SCRIPTS = {
    "failing-tool": """\
replies:
  - tool_calls:
      - name: write_todos
        args:
          todos:
            - {content: "Try the build", status: in_progress}
            - {content: "Report", status: pending}
  - tool_calls:
      - {name: execute, args: {command: "echo building; echo 'missing header' >&2; exit 3"}}
  - tool_calls:
      - name: write_todos
        args: {todos: [{content: "Try the build", status: completed}]}
  - text: "The build failed with exit code 3: a header is missing."
""",
    "slow": """\
replies:
  - tool_calls:
      - {name: execute, args: {command: "sleep 30"}}
  - text: "slept"
""",
    "approval": """\
replies:
  - tool_calls:
      - {name: execute, args: {command: "echo cleaned"}}
      - {name: execute, args: {command: "rm -rf /important"}}
  - text: "I cleaned up; the other command was rejected, so I left /important alone."
""",
}
# Scenarios whose agent needs approval for `execute`; the recorder decides as a person would.
APPROVAL_SCENARIOS = {"approval"}
AGENTS = """\
apiVersion: agentic.stigmer.ai/v1
kind: Agent
metadata: {name: %(name)s}
spec:
  model: '%(model)s'
  instructions: Scenario agent for the live view snapshots.
  toolApprovals: %(approvals)s
---
apiVersion: agentic.stigmer.ai/v1
kind: AgentInstance
metadata: {name: %(name)s}
spec: {agent: %(name)s}
"""
SCENARIOS = (
    ("demo_turn", "demo", "Look around the workspace, read the hello-world skill and ask."),
    ("failing_tool_turn", "failing-tool", "Build the project."),
    ("failed_turn", "keyless", "Hello?"),
    ("cancelled_turn", "slow", "Take your time."),
    ("approval_turn", "approval", "Clean up the workspace."),
)


def _apply_scenarios(resources: Resources, workdir: Path) -> None:
    manifests = [REPO / "examples"]
    models = {name: f"scripted:{workdir / (name + '.yaml')}" for name in SCRIPTS}
    models["keyless"] = "openai:gpt-4.1-mini"
    for name, script in SCRIPTS.items():
        (workdir / f"{name}.yaml").write_text(script, encoding="utf-8")
    agents = workdir / "agents"
    agents.mkdir()
    for name, model in models.items():
        approvals = "[{tool: execute}]" if name in APPROVAL_SCENARIOS else "[]"
        (agents / f"{name}.yaml").write_text(
            AGENTS % {"name": name, "model": model, "approvals": approvals}
        )
    manifests.append(agents)
    apply(load(manifests), resources)


def _record(resources: Resources, slug: str, prompt: str) -> list[AgentExecutionEvent]:
    instance: Any = resources.find(AGENT_INSTANCE, slug)
    spec = AgentExecutionSpec(message=prompt, agent_id=instance.spec.agent_id)
    created: Any = resources.create(
        EXECUTION, AgentExecution(api_version=API_VERSION, kind=EXECUTION.name, spec=spec)
    )
    stub = AgentExecutionQueryControllerStub(resources.channel)
    events: list[AgentExecutionEvent] = []
    cancelled = threading.Event()
    decided = False
    for event in stub.subscribe(SubscribeAgentExecutionRequest(execution_id=created.metadata.id)):
        events.append(event)
        if slug in APPROVAL_SCENARIOS and not decided and _awaiting(event):
            decided = True
            time.sleep(1.0)  # a moment of "waiting" before the person answers
            _decide(resources, created.metadata.id)
        running = any(
            call.status == ToolCallStatus.TOOL_CALL_RUNNING for call in event.delta.tool_calls
        )
        if slug == "slow" and running and not cancelled.is_set():
            cancelled.set()
            time.sleep(1.0)  # a moment of "running" before the cancel
            EXECUTION.command_stub(resources.channel).cancel(EXECUTION.id_of(created.metadata.id))
    return events


def _awaiting(event: AgentExecutionEvent) -> bool:
    phase = ExecutionPhase.EXECUTION_AWAITING_APPROVAL
    return event.delta.phase == phase or event.snapshot.status.phase == phase


def _decide(resources: Resources, execution_id: str) -> None:
    """Approve the first waiting call and reject the second, as a person would."""
    approve, reject = (
        ApprovalDecisionType.APPROVAL_DECISION_APPROVE,
        (ApprovalDecisionType.APPROVAL_DECISION_REJECT),
    )
    EXECUTION.command_stub(resources.channel).decide(
        ToolCallDecisions(
            execution_id=execution_id,
            decisions=[
                ToolCallDecision(tool_call_id="main-call-0-0", type=approve),
                ToolCallDecision(
                    tool_call_id="main-call-0-1", type=reject, message="never in /important"
                ),
            ],
        )
    )


def main() -> None:
    out_dir = Path(sys.argv[1])
    wanted = set(sys.argv[2:])
    config = resolve_config(default_home(os.environ), None, None, os.environ)
    resources = Resources(open_channel(config), config.address)
    with tempfile.TemporaryDirectory() as workdir:
        _apply_scenarios(resources, Path(workdir))
        out_dir.mkdir(parents=True, exist_ok=True)
        for name, slug, prompt in SCENARIOS:
            if wanted and name not in wanted:
                continue
            events = _record(resources, slug, prompt)
            lines = [json_format.MessageToJson(event, indent=None) for event in events]
            (out_dir / f"{name}_events.jsonl").write_text("\n".join(lines) + "\n")
            print(f"{name}: {len(events)} events")


if __name__ == "__main__":
    main()
