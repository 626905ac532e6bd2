"""A secret value given to the server (an environment's, an agent's, a turn's runtime env)
is in none of: the server's log, the turns' Temporal histories, their statuses and errors,
the database files. Turns run through a test double of the runner."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from temporalio.client import Client

from ai.stigmer.agentic.agentexecution.v1.enum_pb2 import ExecutionPhase
from ai.stigmer.commons.apiresource.environment_pb2 import EnvironmentValue
from stigmer_server.storage import Sealer
from stigmer_testing._server import start_stigmer_server

if TYPE_CHECKING:
    from collections.abc import Callable
    from contextlib import AbstractAsyncContextManager

    from conftest import Api, Builders, RunnerFor

    from stigmer_testing._server import StigmerServer

    Connect = Callable[[StigmerServer], AbstractAsyncContextManager[Api]]

pytestmark = pytest.mark.integration

CANARY = "canary-0e4417-never-in-clear"


def _secret() -> EnvironmentValue:
    return EnvironmentValue(value=CANARY, is_secret=True)


async def test_no_secret_value_leaks_into_logs_history_status_or_the_database(
    temporal_address: str,
    temporal_client: Client,
    tmp_path: Path,
    connect_api: Connect,
    runner_for: RunnerFor,
    make: Builders,
) -> None:
    key_file = tmp_path / "secrets.keys"
    key_file.write_text(Sealer.new_key_line("k1") + "\n")
    env = {"STIGMER_SECRETS_KEY_FILE": str(key_file)}
    data_dir = tmp_path / "data"
    async with (
        start_stigmer_server(temporal_address, env=env, data_dir=data_dir) as server,
        connect_api(server) as api,
        runner_for(server, api),
    ):
        environment = make.environment()
        environment.spec.data["TOKEN"].CopyFrom(_secret())
        environment = await api.call(api.environments.create, environment)
        agent = make.agent()
        agent.spec.env_spec.data["AGENT_TOKEN"].CopyFrom(_secret())
        agent = await api.call(api.agents.create, agent)
        instance = await api.call(
            api.instances.create, make.instance(agent.metadata.id, environment.metadata.slug)
        )
        session = await api.call(api.sessions.create, make.session(instance.metadata.id))
        finished = []
        for message, phase in (
            ("ok with a secret", ExecutionPhase.EXECUTION_COMPLETED),
            ("fail with a secret", ExecutionPhase.EXECUTION_FAILED),
        ):
            request = make.execution(message, session_id=session.metadata.id)
            request.spec.runtime_env["TURN_TOKEN"].CopyFrom(_secret())
            turn = await api.call(api.executions.create, request)
            finished.append(await api.wait_phase(turn.metadata.id, phase))
        # Every event's bytes: payloads are binary there (base64 in the JSON form).
        histories = [
            b"".join(
                event.SerializeToString()
                for event in (
                    await temporal_client.get_workflow_handle(turn.metadata.id).fetch_history()
                ).events
            )
            for turn in finished
        ]
        log = server.log()

    # Each place searched is the real thing: it names what the test made.
    for turn, history in zip(finished, histories, strict=True):
        assert turn.metadata.id.encode() in history
        assert CANARY.encode() not in history
        assert CANARY not in str(turn.status)
    assert finished[1].status.error
    assert environment.metadata.id in log
    assert CANARY not in log
    stored = b"".join(path.read_bytes() for path in data_dir.glob("stigmer.db*"))
    assert stored
    assert CANARY.encode() not in stored
