"""A real reflection client (buf curl) lists the services of a running server, and calls one."""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING

import pytest

from stigmer_testing._paths import repo_root

if TYPE_CHECKING:
    from stigmer_testing._server import StigmerServer

pytestmark = pytest.mark.integration
BUF = repo_root() / "tools" / "buf" / "node_modules" / ".bin" / "buf"


async def _buf(*args: str) -> tuple[int, str]:
    if not BUF.is_file():
        pytest.fail(f"buf not found at {BUF}: run `make setup`")
    process = await asyncio.create_subprocess_exec(
        str(BUF), *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=60)
    return process.returncode or 0, output.decode()


async def test_buf_curl_lists_every_controller(server: StigmerServer) -> None:
    code, output = await _buf(
        "curl", "--protocol", "grpc", "--http2-prior-knowledge", "--list-methods",
        f"http://{server.address}",
    )  # fmt: skip
    assert code == 0, output
    methods = set(output.split())
    for kind in ("agent", "agentinstance", "session", "skill", "environment", "agentexecution"):
        pascal = {"agentinstance": "AgentInstance", "agentexecution": "AgentExecution"}.get(
            kind, kind.title()
        )
        assert f"ai.stigmer.agentic.{kind}.v1.{pascal}CommandController/create" in methods
        assert f"ai.stigmer.agentic.{kind}.v1.{pascal}QueryController/get" in methods
    assert "ai.stigmer.agentic.agentexecution.v1.AgentExecutionQueryController/subscribe" in methods
    assert (
        "ai.stigmer.agentic.agentexecution.v1.AgentExecutionCommandController/updateStatus"
        in methods
    )


async def test_buf_curl_calls_a_method_with_the_key(server: StigmerServer) -> None:
    url = f"http://{server.address}/ai.stigmer.agentic.skill.v1.SkillCommandController/create"
    body = json.dumps({
        "apiVersion": "agentic.stigmer.ai/v1",
        "kind": "Skill",
        "metadata": {"name": "curl-skill"},
        "spec": {"markdownContent": "# from buf curl"},
    })  # fmt: skip
    code, output = await _buf(
        "curl", "--protocol", "grpc", "--http2-prior-knowledge",
        "-H", f"authorization: Bearer {server.api_key}", "-d", body, url,
    )  # fmt: skip
    assert code == 0, output
    created = json.loads(output)
    assert created["metadata"]["id"].startswith("skl-")
    assert created["metadata"]["slug"] == "curl-skill"
    code, output = await _buf(
        "curl", "--protocol", "grpc", "--http2-prior-knowledge", "-d", body, url
    )
    assert code != 0
    assert "unauthenticated" in output.lower()
