"""The processes under load: Temporal's dev server, one stigmer-server (SQLite or
PostgreSQL), one agent-runner, and the paced OpenAI-protocol fake they call.

Started the way the integration suites start them (stigmer_testing), with the services'
default log level and heartbeat rather than the suites' DEBUG and 1 s, since logging and
heartbeats are part of what a turn costs.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import urllib.request
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]
from prometheus_client.parser import text_string_to_metric_families
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from loadbench._procstat import child_running, descendants
from stigmer_contracts import data_converter
from stigmer_testing import free_port
from stigmer_testing._paths import temporal_cli
from stigmer_testing._postgres import PostgresCluster, start_postgres
from stigmer_testing._runner import AgentRunnerProcess, start_agent_runner
from stigmer_testing._server import StigmerServer, start_stigmer_server
from stigmer_testing.fakes import FakeOpenAI
from stigmer_testing.otlp import OtlpReceiver


@dataclass(frozen=True)
class Options:
    db: str  # "sqlite" or "postgres"
    concurrency: int  # the runner's MAX_CONCURRENT_TURNS
    chunk_delay: float  # seconds between the fake's streamed parts
    work_dir: Path
    tracing: bool = False  # export spans from the server and the runner to an OTLP receiver


@dataclass(frozen=True)
class Topology:
    temporal: Client
    temporal_pid: int
    server: StigmerServer
    runner: AgentRunnerProcess
    fake: FakeOpenAI
    postgres: PostgresCluster | None
    metrics_url: str  # the server's /metrics

    def payload_bytes(self) -> int:
        """The server's logical database writes so far (resource and status-log payloads)."""
        # An http:// URL this module built itself.
        with urllib.request.urlopen(self.metrics_url, timeout=10) as response:  # noqa: S310
            text = response.read().decode()
        for family in text_string_to_metric_families(text):
            if family.name == "stigmer_db_payload_bytes_written":
                return int(family.samples[0].value)
        raise ValueError(f"{self.metrics_url} has no stigmer_db_payload_bytes_written")

    def database_pids(self) -> list[int]:
        """The processes that write the database: PostgreSQL's postmaster and backends, or
        the server itself (SQLite is a library in its process)."""
        if self.postgres is None:
            return [self.server.pid]
        return [self._postmaster(), *descendants(self._postmaster())]

    def _postmaster(self) -> int:
        assert self.postgres is not None
        # The first line of postmaster.pid is the postmaster's pid.
        return int((self.postgres.data_dir / "postmaster.pid").read_text().split()[0])


@contextlib.asynccontextmanager
async def start_topology(options: Options) -> AsyncIterator[Topology]:
    cli = temporal_cli()
    if cli is None:
        raise SystemExit("no Temporal CLI: run `make setup` (it installs .tools/bin/temporal)")
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(cli),
        ip="127.0.0.1",
        data_converter=data_converter(),
        dev_server_log_level="error",
        ui=False,
    )
    try:
        temporal_pid = child_running(os.getpid(), cli)
        address = env.client.service_client.config.target_host
        async with contextlib.AsyncExitStack() as stack:
            postgres = None
            metrics_port = free_port()
            server_env = {
                "LOG_LEVEL": "INFO",
                "STIGMER_METRICS_ADDRESS": f"127.0.0.1:{metrics_port}",
            }
            if options.db == "postgres":
                postgres = await stack.enter_async_context(start_postgres())
                server_env["STIGMER_DB_URL"] = await _new_database(postgres)
            tracing = stack.enter_context(OtlpReceiver()).env() if options.tracing else {}
            server = await stack.enter_async_context(
                start_stigmer_server(
                    address, env=server_env | tracing, data_dir=options.work_dir / "server"
                )
            )
            fake = stack.enter_context(
                FakeOpenAI(
                    api_key=f"sk-bench-{secrets.token_hex(8)}",
                    chunk_delay=options.chunk_delay,
                    model="gpt-bench",
                )
            )
            runner = await stack.enter_async_context(
                start_agent_runner(
                    server,
                    address,
                    data_dir=options.work_dir / "runner",
                    env={
                        "LOG_LEVEL": "INFO",
                        "HEARTBEAT_INTERVAL_SECONDS": "2",  # the runner's default
                        "MAX_CONCURRENT_TURNS": str(options.concurrency),
                    }
                    | tracing,
                )
            )
            metrics_url = f"http://127.0.0.1:{metrics_port}/metrics"
            yield Topology(env.client, temporal_pid, server, runner, fake, postgres, metrics_url)
    finally:
        await env.shutdown()


async def _new_database(cluster: PostgresCluster) -> str:
    name = f"bench_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(
        host=cluster.host, port=cluster.port, user=cluster.user, database="postgres"
    )
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return cluster.url(name)
