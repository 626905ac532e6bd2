"""A throwaway PostgreSQL cluster (Debian's binaries, 15 here) for the tests of a session.

initdb into a temp dir, `postgres` on a free loopback port with its socket in that dir,
trust auth for one user; each test that asks for `postgres_url` gets its own database.
PostgreSQL refuses to run as root, so under root the cluster runs as the `postgres` (or
`nobody`) user through setpriv.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pwd
import secrets
import shutil
import socket
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]
import pytest

_USER = "stigmer"
_START_TIMEOUT = 30.0


@dataclass(frozen=True)
class PostgresCluster:
    host: str
    port: int
    user: str
    data_dir: Path

    def url(self, database: str = "postgres") -> str:
        """An SQLAlchemy asyncpg URL for `database` on this cluster."""
        return f"postgresql+asyncpg://{self.user}@{self.host}:{self.port}/{database}"


def _bin_dir() -> Path:
    """STIGMER_POSTGRES_BIN, else Debian's newest /usr/lib/postgresql/<version>/bin, else PATH."""
    explicit = os.environ.get("STIGMER_POSTGRES_BIN")
    debian = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda path: int(path.parent.name) if path.parent.name.isdigit() else 0,
        reverse=True,
    )
    for candidate in [*([Path(explicit)] if explicit else []), *debian]:
        if (candidate / "initdb").is_file():
            return candidate
    on_path = shutil.which("initdb")
    if on_path:
        return Path(on_path).parent
    pytest.fail(
        "no PostgreSQL binaries: install Debian's postgresql (make setup) or set "
        "STIGMER_POSTGRES_BIN to the directory holding initdb and postgres"
    )


def _run_as() -> list[str]:
    """A prefix that drops root, which initdb and postgres refuse."""
    if os.getuid() != 0:
        return []
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            entry = pwd.getpwnam(name)
            return [
                "setpriv",
                f"--reuid={entry.pw_uid}",
                f"--regid={entry.pw_gid}",
                "--clear-groups",
                "--",
            ]
    pytest.fail("running as root and no `postgres` or `nobody` user to run PostgreSQL as")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _chown_for(prefix: list[str], path: Path) -> None:
    if prefix:
        uid = int(prefix[1].split("=")[1])
        gid = int(prefix[2].split("=")[1])
        os.chown(path, uid, gid)


@contextlib.contextmanager
def _temp_root() -> Iterator[Path]:
    # Not under pytest's tmp_path: that is private to root (0700), the cluster's user
    # could not enter it.
    root = Path(tempfile.mkdtemp(prefix="stigmer-pg-"))
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


async def _run(argv: list[str], log: Path) -> None:
    with log.open("ab") as out:
        process = await asyncio.create_subprocess_exec(*argv, stdout=out, stderr=out)
        code = await process.wait()
    if code != 0:
        pytest.fail(f"{' '.join(argv)} failed ({code}):\n{_tail(log)}")


@contextlib.asynccontextmanager
async def start_postgres() -> AsyncIterator[PostgresCluster]:
    bin_dir = _bin_dir()
    prefix = _run_as()
    with _temp_root() as root:
        _chown_for(prefix, root)
        data_dir = root / "data"
        log = root / "postgres.log"
        log.touch()
        _chown_for(prefix, log)
        await _run(
            [*prefix, str(bin_dir / "initdb"), "-D", str(data_dir), "-U", _USER,
             "--auth=trust", "--encoding=UTF8", "--no-sync"],
            log,
        )  # fmt: skip
        port = _free_port()
        with log.open("ab") as out:
            server = await asyncio.create_subprocess_exec(
                *prefix, str(bin_dir / "postgres"), "-D", str(data_dir), "-k", str(root),
                "-h", "127.0.0.1", "-p", str(port), "-F", "-c", "max_connections=200",
                stdout=out, stderr=out,
            )  # fmt: skip
        cluster = PostgresCluster("127.0.0.1", port, _USER, data_dir)
        try:
            await _wait_ready(cluster, server, log)
            yield cluster
        finally:
            if server.returncode is None:
                server.terminate()  # SIGTERM: PostgreSQL's "smart" shutdown
                try:
                    await asyncio.wait_for(server.wait(), timeout=15)
                except TimeoutError:
                    server.kill()
                    await server.wait()


async def _wait_ready(
    cluster: PostgresCluster, server: asyncio.subprocess.Process, log: Path
) -> None:
    deadline = time.monotonic() + _START_TIMEOUT
    while time.monotonic() < deadline:
        if server.returncode is not None:
            pytest.fail(f"postgres exited with {server.returncode}:\n{_tail(log)}")
        try:
            connection = await asyncpg.connect(
                host=cluster.host, port=cluster.port, user=cluster.user, database="postgres"
            )
        except (OSError, asyncpg.PostgresError):
            await asyncio.sleep(0.1)
            continue
        await connection.close()
        return
    pytest.fail(f"postgres did not accept connections within {_START_TIMEOUT:.0f} s:\n{_tail(log)}")


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-3000:]


@pytest.fixture(scope="session")
async def postgres_cluster() -> AsyncIterator[PostgresCluster]:
    """A PostgreSQL 15 cluster for the whole test session."""
    async with start_postgres() as cluster:
        yield cluster


@pytest.fixture
async def postgres_url(postgres_cluster: PostgresCluster) -> AsyncIterator[str]:
    """A fresh, empty database on the session's cluster, as an SQLAlchemy asyncpg URL."""
    name = f"test_{secrets.token_hex(6)}"
    admin = await asyncpg.connect(
        host=postgres_cluster.host, port=postgres_cluster.port, user=postgres_cluster.user,
        database="postgres",
    )  # fmt: skip
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield postgres_cluster.url(name)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()
