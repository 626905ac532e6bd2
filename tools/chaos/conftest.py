"""The chaos suite's processes, shared by its scenarios and torn down when the suite ends:
a Temporal dev server on a file database, a stigmer-server that can be killed and restarted,
and a pool of agent-runners on one data directory. Each scenario adds a line of figures;
the suite prints them, and a full-scale run writes docs/benchmarks/chaos.md."""

from __future__ import annotations

import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import grpc
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from chaos_api import ChaosApi
from chaos_cluster import ChaosServer, RunnerPool
from chaos_figures import Figures, write_report
from chaos_scale import SCALE
from chaos_temporal import FileTemporal
from chaos_turns import agent_stack_ready

from stigmer_testing._paths import repo_root, temporal_cli

FIGURES = pytest.StashKey[Figures]()


@pytest.fixture(scope="package")
def figures(request: pytest.FixtureRequest) -> Iterator[Figures]:
    """Lines of figures; written to docs/benchmarks/chaos.md after a full-scale run."""
    collected = request.config.stash.setdefault(FIGURES, Figures())
    started = time.monotonic()
    yield collected
    if SCALE.full and not request.session.testsfailed:
        write_report(repo_root(), collected, time.monotonic() - started)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    collected = terminalreporter.config.stash.get(FIGURES, None)
    if collected and collected.lines:
        terminalreporter.section(f"chaos figures ({SCALE.name} scale)")
        for line in collected.lines:
            terminalreporter.write_line(line)


@pytest.fixture(scope="package")
async def file_temporal(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[FileTemporal]:
    cli = temporal_cli()
    if cli is None:
        pytest.fail("no Temporal CLI found: run `make setup` (it installs .tools/bin/temporal)")
    directory = tmp_path_factory.mktemp("temporal")
    temporal = FileTemporal(
        cli=cli, db_file=directory / "temporal.db", log_file=directory / "temporal.log"
    )
    await temporal.start()
    try:
        yield temporal
    finally:
        await temporal.stop()


@pytest.fixture(scope="package")
async def chaos_server(
    file_temporal: FileTemporal, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[ChaosServer]:
    server = ChaosServer(file_temporal.address, tmp_path_factory.mktemp("server"))
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture(scope="package")
async def runners(
    chaos_server: ChaosServer,
    file_temporal: FileTemporal,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[RunnerPool]:
    """One runner to start with; scenarios that kill runners add more.

    The scenarios start once its agent stack is loaded: a turn that waits for the load can
    miss its heartbeat timeout on a busy machine, and that attempt's cancellation also
    cancels the runner's shared agent-stack load, which stops the runner."""
    pool = RunnerPool(chaos_server, file_temporal.address, tmp_path_factory.mktemp("runner"))
    await agent_stack_ready(await pool.start())
    try:
        yield pool
    finally:
        await pool.stop_all()


@pytest.fixture(scope="package")
async def api(chaos_server: ChaosServer) -> AsyncIterator[ChaosApi]:
    async with grpc.aio.insecure_channel(chaos_server.current.address) as channel:
        yield ChaosApi(channel, chaos_server.api_key)
