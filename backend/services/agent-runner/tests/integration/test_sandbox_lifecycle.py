"""Sandbox lifecycle: the reaper and the CleanupSandbox activity delete only our stale
sandboxes. A real stigmer-server answers whether a session exists; Daytona is the protocol
fake driven by the real SDK; local workspaces are real directories."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from daytona import CreateSandboxFromSnapshotParams, Daytona, DaytonaConfig
from langgraph.checkpoint.memory import InMemorySaver
from runner_world import World, daytona_provider
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from agent_runner.activities import RunnerActivities, TurnDependencies
from agent_runner.clients import StigmerClients
from agent_runner.config import (
    FlushPolicy,
    LocalSandboxSettings,
    ProviderDefaults,
    TurnSettings,
)
from agent_runner.environment import Redactor
from agent_runner.graphs import AgentGraphs
from agent_runner.models import DefaultModelFactory
from agent_runner.reaper import reap_once, session_exists
from agent_runner.sandbox import LocalSandboxProvider, SandboxProvider, SandboxRequest
from stigmer_contracts import ERROR_INVALID_INPUT
from stigmer_testing._server import StigmerServer, start_stigmer_server
from stigmer_testing.fakes import FakeDaytona

pytestmark = pytest.mark.integration

DAY = timedelta(days=1)
OLD = datetime.now(UTC) - 3 * DAY


@pytest.fixture(scope="module")
async def server(temporal_address: str) -> AsyncIterator[StigmerServer]:
    async with start_stigmer_server(temporal_address) as running:
        yield running


@pytest.fixture
async def clients(server: StigmerServer) -> AsyncIterator[StigmerClients]:
    connected = StigmerClients.connect(server.address, server.api_key)
    yield connected
    await connected.close()


async def acquire(provider: SandboxProvider, session_id: str) -> str:
    request = SandboxRequest(session_id=session_id, sandbox_id="", env={}, redact=Redactor([]))
    return (await provider.acquire(request)).id


async def test_the_reaper_deletes_only_our_stale_daytona_sandboxes(
    fake_daytona: FakeDaytona, server: StigmerServer, clients: StigmerClients, world_for: Any
) -> None:
    world: World = world_for(server)
    alive = (await world.session("scripted:demo", sub_agents=False)).metadata.id
    ours = daytona_provider(fake_daytona, "stigmer-test")
    fresh = await acquire(ours, alive)
    idle = await acquire(ours, alive)
    orphan = await acquire(ours, "ses-gone-for-good")
    theirs = await acquire(daytona_provider(fake_daytona, "someone-else"), "ses-gone-for-good")
    plain = Daytona(
        DaytonaConfig(api_key=fake_daytona.api_key, api_url=fake_daytona.api_url, target="us")
    )
    unlabelled = (
        await asyncio.to_thread(plain.create, CreateSandboxFromSnapshotParams(labels={"a": "b"}))
    ).id
    for sandbox_id in (idle, theirs, unlabelled):
        fake_daytona.sandbox(sandbox_id).last_activity_at = OLD
    reaped = await reap_once(ours, session_exists(clients), idle_ttl=DAY)
    assert {r.sandbox_id: r.reason.split(" ")[0] for r in reaped} == {
        idle: "idle",
        orphan: "session",
    }
    assert {s.id for s in fake_daytona.sandboxes()} == {fresh, theirs, unlabelled}
    # Only our owner label was listed, and nothing else was deleted.
    assert all(
        r.path in {f"/api/sandbox/{idle}", f"/api/sandbox/{orphan}"}
        for r in fake_daytona.requests
        if r.method == "DELETE"
    )
    # A second pass finds nothing more to do.
    assert await reap_once(ours, session_exists(clients), idle_ttl=DAY) == []


async def test_the_reaper_ages_local_workspaces_and_leaves_other_directories(
    tmp_path: Path, server: StigmerServer, clients: StigmerClients, world_for: Any
) -> None:
    world: World = world_for(server)
    alive = (await world.session("scripted:demo", sub_agents=False)).metadata.id
    root = tmp_path / "sandboxes"
    local = LocalSandboxProvider(
        LocalSandboxSettings(
            root=root, command_timeout=5, max_output_bytes=10_000, isolation="none", network=False
        )
    )
    fresh = await acquire(local, alive)
    orphan = await acquire(local, "ses-gone-for-good")
    stale = await acquire(local, "ses-idle-for-long")
    foreign = root / "not-a-workspace"
    foreign.mkdir()
    for path in (root / stale, foreign):
        os.utime(path, (OLD.timestamp(), OLD.timestamp()))
    reaped = await reap_once(local, session_exists(clients), idle_ttl=DAY)
    assert {r.sandbox_id for r in reaped} == {orphan, stale}
    assert sorted(p.name for p in root.iterdir()) == sorted([fresh, "not-a-workspace"])


async def test_cleanup_sandbox_deletes_ours_once_and_refuses_another_owners(
    fake_daytona: FakeDaytona, clients: StigmerClients
) -> None:
    ours = daytona_provider(fake_daytona, "stigmer-test")
    mine = await acquire(ours, "ses-1")
    theirs = await acquire(daytona_provider(fake_daytona, "someone-else"), "ses-2")
    ready: asyncio.Future[TurnDependencies] = asyncio.get_running_loop().create_future()
    ready.set_result(
        TurnDependencies(
            sandboxes=ours,
            graphs=AgentGraphs(
                models=DefaultModelFactory(ProviderDefaults()), checkpointer=InMemorySaver()
            ),
            settings=TurnSettings(default_model="scripted:demo", flush=FlushPolicy()),
        )
    )
    activities = RunnerActivities(clients=clients, dependencies=ready, heartbeat_interval=1)
    env = ActivityEnvironment()
    assert await env.run(activities.cleanup_sandbox, mine) is True
    assert await env.run(activities.cleanup_sandbox, mine) is False
    with pytest.raises(ApplicationError) as refused:
        await env.run(activities.cleanup_sandbox, theirs)
    assert refused.value.type == ERROR_INVALID_INPUT
    assert refused.value.non_retryable
    assert "not owned by this runner" in str(refused.value)
    assert [s.id for s in fake_daytona.sandboxes()] == [theirs]
