"""The pytest11 entry point: every fixture module of this package, registered at once.

Each fixture module owns one kind of real process; a new module's fixtures are imported here.
"""

from __future__ import annotations

from stigmer_testing._fakes import (
    clean_client_env,
    fake_anthropic,
    fake_daytona,
    fake_ollama,
    fake_openai,
)
from stigmer_testing._postgres import postgres_cluster, postgres_url
from stigmer_testing._runner import agent_runner_factory
from stigmer_testing._server import stigmer_server, stigmer_server_factory
from stigmer_testing._sockets import pytest_configure, pytest_runtest_setup
from stigmer_testing._temporal import temporal_address, temporal_client, temporal_env

__all__ = [
    "agent_runner_factory",
    "clean_client_env",
    "fake_anthropic",
    "fake_daytona",
    "fake_ollama",
    "fake_openai",
    "postgres_cluster",
    "postgres_url",
    "pytest_configure",
    "pytest_runtest_setup",
    "stigmer_server",
    "stigmer_server_factory",
    "temporal_address",
    "temporal_client",
    "temporal_env",
]
