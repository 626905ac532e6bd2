"""Every client method refuses an empty id before it calls anything."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from agent_runner.clients import StigmerClients
from ai.stigmer.agentic.agentexecution.v1.io_pb2 import AgentExecutionStatusUpdate
from ai.stigmer.agentic.session.v1.api_pb2 import Session


@pytest.fixture
async def clients() -> AsyncIterator[StigmerClients]:
    # Nothing listens there: a call that got past the check would fail differently.
    result = StigmerClients.connect("127.0.0.1:9", "key")
    yield result
    await result.close()


CASES: list[tuple[str, Callable[[StigmerClients], Awaitable[Any]]]] = [
    ("session_id", lambda c: c.get_session("")),
    ("execution_id", lambda c: c.get_execution("")),
    ("execution_id", lambda c: c.update_status(AgentExecutionStatusUpdate())),
    ("session.metadata.id", lambda c: c.update_session(Session())),
    ("execution_id", lambda c: c.get_turn_context("")),
]


@pytest.mark.parametrize(("field", "call"), CASES)
async def test_empty_id_is_refused_with_the_field_name(
    clients: StigmerClients, field: str, call: Callable[[StigmerClients], Awaitable[Any]]
) -> None:
    with pytest.raises(ValueError, match="cannot be empty") as caught:
        await call(clients)
    assert str(caught.value) == f"{field} cannot be empty"
