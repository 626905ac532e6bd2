"""A real Temporal dev server for the whole test session."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from stigmer_contracts import data_converter
from stigmer_testing._paths import temporal_cli


@pytest.fixture(scope="session")
async def temporal_env() -> AsyncIterator[WorkflowEnvironment]:
    """The dev server (in-memory) on free loopback ports, started from the installed CLI."""
    cli = temporal_cli()
    if cli is None:
        pytest.fail("no Temporal CLI found: run `make setup` (it installs .tools/bin/temporal)")
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(cli),
        ip="127.0.0.1",
        data_converter=data_converter(),
        dev_server_log_level="error",
        ui=False,
    )
    try:
        yield env
    finally:
        await env.shutdown()


@pytest.fixture(scope="session")
async def temporal_client(temporal_env: WorkflowEnvironment) -> Client:
    return temporal_env.client


@pytest.fixture(scope="session")
def temporal_address(temporal_env: WorkflowEnvironment) -> str:
    """host:port of the dev server's frontend, for processes started by a test."""
    config = temporal_env.client.service_client.config
    return config.target_host
