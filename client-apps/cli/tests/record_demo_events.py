"""Records the `subscribe` events of one real demo turn, for the live view snapshot test.

Not a test: run it against a local system that has the examples applied, then commit the
file it writes and regenerate the snapshot (STIGMER_UPDATE_SNAPSHOTS=1 pytest ...):

    .venv/bin/python client-apps/cli/tests/record_demo_events.py client-apps/cli/tests/data
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from google.protobuf import json_format

from ai.stigmer.agentic.agentexecution.v1.api_pb2 import AgentExecution
from ai.stigmer.agentic.agentexecution.v1.io_pb2 import SubscribeAgentExecutionRequest
from ai.stigmer.agentic.agentexecution.v1.query_pb2_grpc import AgentExecutionQueryControllerStub
from ai.stigmer.agentic.agentexecution.v1.spec_pb2 import AgentExecutionSpec
from stigmer_cli._client import Resources, open_channel, resolve_config
from stigmer_cli._kinds import AGENT_INSTANCE, API_VERSION, EXECUTION
from stigmer_cli.local._layout import default_home

PROMPT = "Look around the workspace, read the hello-world skill and ask the researcher."


def main() -> None:
    out_dir = Path(sys.argv[1])
    config = resolve_config(default_home(os.environ), None, None, os.environ)
    channel = open_channel(config)
    resources = Resources(channel, config.address)
    instance = resources.find(AGENT_INSTANCE, "demo")
    spec = AgentExecutionSpec(message=PROMPT, agent_id=instance.spec.agent_id)  # type: ignore[attr-defined]
    created = resources.create(
        EXECUTION, AgentExecution(api_version=API_VERSION, kind=EXECUTION.name, spec=spec)
    )
    stub = AgentExecutionQueryControllerStub(channel)
    request = SubscribeAgentExecutionRequest(execution_id=created.metadata.id)  # type: ignore[attr-defined]
    lines = [json_format.MessageToJson(event, indent=None) for event in stub.subscribe(request)]
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "demo_turn_events.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"{len(lines)} events recorded")


if __name__ == "__main__":
    main()
