"""The entrypoint as a user runs it: config errors, .env, JSON logs, clean SIGTERM."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from stigmer_testing._server import StigmerServerFactory


async def _run_entrypoint(cwd: Path, env: dict[str, str]) -> tuple[int, str]:
    clean = {
        k: v for k, v in os.environ.items() if not k.startswith(("STIGMER_", "TEMPORAL_", "LOG_"))
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "stigmer_server", cwd=cwd, env={**clean, **env},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    output, _ = await asyncio.wait_for(process.communicate(), timeout=60)
    return process.returncode or 0, output.decode()


async def test_bad_config_exits_2_naming_every_problem(tmp_path: Path) -> None:
    code, output = await _run_entrypoint(
        tmp_path, {"LOG_FORMAT": "xml", "STIGMER_SESSION_POLICY": "x"}
    )
    assert code == 2
    for name in ("STIGMER_API_KEYS", "LOG_FORMAT", "STIGMER_SESSION_POLICY"):
        assert name in output
    assert "Traceback" not in output


async def test_dotenv_in_the_working_directory_is_read(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("STIGMER_SERVER_ADDRESS=not-an-address\n")
    code, output = await _run_entrypoint(tmp_path, {"STIGMER_API_KEYS": "k"})
    assert code == 2
    assert "STIGMER_SERVER_ADDRESS='not-an-address'" in output
    # A variable set in the real environment wins over the .env file.
    code, output = await _run_entrypoint(
        tmp_path, {"STIGMER_API_KEYS": "k", "STIGMER_SERVER_ADDRESS": "also-bad"}
    )
    assert "also-bad" in output
    assert "not-an-address" not in output


@pytest.mark.integration
async def test_json_logs_and_a_clean_sigterm(stigmer_server_factory: StigmerServerFactory) -> None:
    async with stigmer_server_factory(env={"LOG_FORMAT": "json", "LOG_LEVEL": "INFO"}) as server:
        os.kill(server.pid, signal.SIGTERM)
        for _ in range(200):
            if '"stopped"' in server.log():
                break
            await asyncio.sleep(0.05)
        log = server.log()
    lines = [json.loads(line) for line in log.splitlines() if line.strip()]
    messages = [line["message"] for line in lines]
    assert any(m.startswith("stigmer-server listening on 127.0.0.1:") for m in messages)
    assert messages[-1] == "stopped"
    assert "shutting down" in messages
    assert {line["level"] for line in lines} <= {"INFO", "WARNING"}
    assert server.api_key not in log


@pytest.mark.integration
async def test_a_busy_port_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        address = f"127.0.0.1:{taken.getsockname()[1]}"
        code, output = await _run_entrypoint(
            tmp_path,
            {
                "STIGMER_API_KEYS": "k",
                "STIGMER_SERVER_ADDRESS": address,
                "STIGMER_DATA_DIR": str(tmp_path),
            },
        )
    assert code == 1
    assert f"cannot listen on {address}" in output
    assert "Traceback" not in output


@pytest.mark.integration
async def test_a_busy_http_port_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        address = f"127.0.0.1:{taken.getsockname()[1]}"
        code, output = await _run_entrypoint(
            tmp_path,
            {
                "STIGMER_API_KEYS": "k",
                "STIGMER_SERVER_ADDRESS": "127.0.0.1:0",
                "STIGMER_HTTP_ADDRESS": address,
                "STIGMER_DATA_DIR": str(tmp_path),
            },
        )
    assert code == 1
    assert f"cannot listen on {address} (HTTP)" in output
    assert "Traceback" not in output
