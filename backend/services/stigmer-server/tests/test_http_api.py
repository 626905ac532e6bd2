"""The HTTP side: every gRPC service over Connect, as curl and browsers call it.

A real server process on loopback; requests are plain HTTP (httpx), JSON or binary, with the
Connect envelope written by hand for the stream, as the curl examples in
docs/guides/http-api.md do.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import struct
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import grpc
import httpx
import pytest
from google.protobuf.descriptor_pool import DescriptorPool
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (  # type: ignore[import-untyped]
    ProtoReflectionDescriptorDatabase,
)

from ai.stigmer.agentic.agent.v1.api_pb2 import Agent
from ai.stigmer.agentic.agentexecution.v1.enum_pb2 import ExecutionPhase
from ai.stigmer.agentic.agentexecution.v1.io_pb2 import AgentExecutionStatusUpdate
from ai.stigmer.agentic.agentexecution.v1.status_pb2 import AgentExecutionStatus, AgentMessage
from ai.stigmer.commons.apiresource.environment_pb2 import EnvironmentValue

if TYPE_CHECKING:
    from conftest import Api, Builders

    from stigmer_testing._server import StigmerServer, StigmerServerFactory

pytestmark = pytest.mark.integration

AGENTS = "/ai.stigmer.agentic.agent.v1.AgentCommandController"
AGENTS_Q = "/ai.stigmer.agentic.agent.v1.AgentQueryController"
ENVIRONMENTS = "/ai.stigmer.agentic.environment.v1.EnvironmentCommandController"
EXECUTIONS_Q = "/ai.stigmer.agentic.agentexecution.v1.AgentExecutionQueryController"
STREAM_SECRET = "stream-secret-canary-5b1"


@pytest.fixture
async def http(server: StigmerServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.http_url, timeout=30) as client:
        yield client


def _auth(server: StigmerServer) -> dict[str, str]:
    return {"authorization": f"Bearer {server.api_key}"}


def _agent_json(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "agentic.stigmer.ai/v1",
        "kind": "Agent",
        "metadata": {"name": name},
        "spec": {"model": "scripted:demo", "instructions": "help"},
    }


async def test_json_create_then_get_as_curl_does(
    http: httpx.AsyncClient, server: StigmerServer, make: Builders
) -> None:
    name = make.unique("http-agent")
    created = await http.post(f"{AGENTS}/create", json=_agent_json(name), headers=_auth(server))
    assert created.status_code == 200, created.text
    assert created.headers["content-type"] == "application/json"
    agent = created.json()
    assert agent["metadata"]["name"] == name
    agent_id = agent["metadata"]["id"]

    got = await http.post(f"{AGENTS_Q}/get", json={"value": agent_id}, headers=_auth(server))
    assert got.status_code == 200, got.text
    assert got.json()["spec"]["instructions"] == "help"


async def test_binary_protobuf_works_too(
    http: httpx.AsyncClient, server: StigmerServer, make: Builders
) -> None:
    body = make.agent().SerializeToString()
    reply = await http.post(
        f"{AGENTS}/create",
        content=body,
        headers={**_auth(server), "content-type": "application/proto"},
    )
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"] == "application/proto"
    assert Agent.FromString(reply.content).metadata.id


@pytest.mark.parametrize(
    "headers",
    [{}, {"authorization": "Bearer wrong-key"}, {"authorization": "Basic abc"}],
    ids=["missing", "wrong", "not-bearer"],
)
async def test_a_missing_or_wrong_key_is_refused_before_the_body_is_read(
    http: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    # The body is not even JSON: the gate answers first, as on gRPC.
    reply = await http.post(
        f"{AGENTS}/create",
        content=b"{not json",
        headers={**headers, "content-type": "application/json"},
    )
    assert reply.status_code == 401
    assert reply.json()["code"] == "unauthenticated"
    assert "API key" in reply.json()["message"]


async def test_errors_keep_their_code_and_message_and_leak_nothing(
    http: httpx.AsyncClient, server: StigmerServer
) -> None:
    missing = await http.post(
        f"{AGENTS_Q}/get", json={"value": "agt-01JZZZZZZZZZZZZZZZZZZZZZZZ"}, headers=_auth(server)
    )
    assert missing.status_code == 404
    assert missing.json()["code"] == "not_found"

    invalid = await http.post(
        f"{AGENTS}/create", json={"kind": "Agent", "metadata": {"name": "x"}}, headers=_auth(server)
    )
    assert invalid.status_code == 400
    error = invalid.json()
    assert error["code"] == "invalid_argument"
    # Names the field; no traceback or internal detail.
    assert ":" in error["message"]
    assert "Traceback" not in invalid.text
    assert "File " not in invalid.text

    bad_json = await http.post(
        f"{AGENTS}/create",
        content=b"{not json",
        headers={**_auth(server), "content-type": "application/json"},
    )
    assert bad_json.status_code == 400
    assert bad_json.json()["code"] == "invalid_argument"


def _grpc_services(address: str) -> set[str]:
    with grpc.insecure_channel(address) as channel:
        database = ProtoReflectionDescriptorDatabase(channel)
        DescriptorPool(database)
        return {
            name
            for name in database.get_services()
            if not name.startswith(("grpc.health.", "grpc.reflection."))
        }


async def test_exactly_the_grpc_services_are_served(
    http: httpx.AsyncClient, server: StigmerServer
) -> None:
    services = await asyncio.to_thread(_grpc_services, server.address)
    assert services, "reflection listed no service"
    for service in services:
        # Every method of every gRPC service answers here: with no key, the gate's 401.
        with grpc.insecure_channel(server.address) as channel:
            pool = DescriptorPool(ProtoReflectionDescriptorDatabase(channel))
            methods = [m.name for m in pool.FindServiceByName(service).methods]
        for method in methods:
            reply = await http.post(
                f"/{service}/{method}", json={}, headers={"content-type": "application/json"}
            )
            streaming = reply.headers.get("content-type", "").startswith("application/connect")
            if reply.status_code == 415:
                # Streaming methods take only enveloped bodies; they exist all the same.
                continue
            assert reply.status_code in (200, 401), f"{service}/{method}: {reply.status_code}"
            if not streaming:
                assert reply.status_code == 401, f"{service}/{method} answered without a key"
    unknown = await http.post("/grpc.health.v1.Health/Check", json={})
    assert unknown.status_code in (404, 405)  # not a Connect endpoint (405: the console)


def _envelope(message: dict[str, Any]) -> bytes:
    body = json.dumps(message).encode()
    return b"\0" + struct.pack(">I", len(body)) + body


def _frames(data: bytes) -> list[tuple[int, dict[str, Any]]]:
    frames = []
    while data:
        flags, length = data[0], struct.unpack(">I", data[1:5])[0]
        frames.append((flags, json.loads(data[5 : 5 + length])))
        data = data[5 + length :]
    return frames


async def test_subscribe_streams_the_turn_live(
    http: httpx.AsyncClient, server: StigmerServer, api: Api, make: Builders
) -> None:
    _, session_id = await api.new_session(make)
    request = make.execution("wait", session_id=session_id)
    # A turn's own secret: the admin key reads it in clear on gRPC, never over HTTP.
    request.spec.runtime_env["TOKEN"].CopyFrom(
        EnvironmentValue(value=STREAM_SECRET, is_secret=True)
    )
    execution = await api.call(api.executions.create, request)
    execution_id = execution.metadata.id
    received = bytearray()
    first_frame = asyncio.Event()

    async def watch() -> None:
        async with http.stream(
            "POST",
            f"{EXECUTIONS_Q}/subscribe",
            content=_envelope({"executionId": execution_id}),
            headers={**_auth(server), "content-type": "application/connect+json"},
        ) as reply:
            assert reply.status_code == 200
            async for chunk in reply.aiter_bytes():
                received.extend(chunk)
                first_frame.set()

    watcher = asyncio.create_task(watch())
    await asyncio.wait_for(first_frame.wait(), timeout=30)
    for status in (
        AgentExecutionStatus(
            phase=ExecutionPhase.EXECUTION_IN_PROGRESS,
            messages=[AgentMessage(id="m1", content="hello from the stream")],
        ),
        AgentExecutionStatus(phase=ExecutionPhase.EXECUTION_COMPLETED),
    ):
        await api.call(
            api.executions.updateStatus,
            AgentExecutionStatusUpdate(execution_id=execution_id, status=status),
        )
    await asyncio.wait_for(watcher, timeout=30)
    frames = _frames(bytes(received))
    assert frames[-1] == (2, {}), frames[-1]  # end of stream, no error
    text = json.dumps([body for _, body in frames])
    assert "hello from the stream" in text
    assert "EXECUTION_COMPLETED" in text
    assert STREAM_SECRET not in text
    assert '"isSecret": true' in text  # the value is there, masked


async def test_a_stream_without_a_key_ends_with_unauthenticated(
    http: httpx.AsyncClient,
) -> None:
    reply = await http.post(
        f"{EXECUTIONS_Q}/subscribe",
        content=_envelope({"executionId": "aex-x"}),
        headers={"content-type": "application/connect+json"},
    )
    assert reply.status_code == 200  # Connect streams carry their error in the last frame
    assert _frames(reply.content)[-1][1]["error"]["code"] == "unauthenticated"


async def test_secret_values_are_masked_over_http(
    http: httpx.AsyncClient, server: StigmerServer, make: Builders
) -> None:
    secret = "s3cr3t-over-http-value"
    body = {
        "apiVersion": "agentic.stigmer.ai/v1",
        "kind": "Environment",
        "metadata": {"name": make.unique("env")},
        "spec": {"data": {"TOKEN": {"value": secret, "isSecret": True}}},
    }
    reply = await http.post(f"{ENVIRONMENTS}/create", json=body, headers=_auth(server))
    assert reply.status_code == 200, reply.text
    assert secret not in reply.text


async def test_cors_is_off_unless_configured(
    http: httpx.AsyncClient, stigmer_server_factory: StigmerServerFactory
) -> None:
    preflight = {
        "origin": "https://console.example",
        "access-control-request-method": "POST",
        "access-control-request-headers": "authorization,content-type",
    }
    closed = await http.options(f"{AGENTS}/create", headers=preflight)
    assert "access-control-allow-origin" not in closed.headers
    async with (
        stigmer_server_factory(
            env={"STIGMER_HTTP_CORS_ORIGINS": "https://console.example"}
        ) as open_,
        httpx.AsyncClient(base_url=open_.http_url, timeout=30) as client,
    ):
        allowed = await client.options(f"{AGENTS}/create", headers=preflight)
        assert allowed.status_code == 200
        assert allowed.headers["access-control-allow-origin"] == "https://console.example"
        other = await client.options(
            f"{AGENTS}/create", headers={**preflight, "origin": "https://evil.example"}
        )
        assert "access-control-allow-origin" not in other.headers


async def test_a_sign_in_ticket_works_once(http: httpx.AsyncClient, server: StigmerServer) -> None:
    refused = await http.post("/console/tickets", headers={"authorization": "Bearer nope"})
    assert refused.status_code == 401
    issued = await http.post("/console/tickets", headers=_auth(server))
    assert issued.status_code == 200
    ticket = issued.json()["ticket"]
    assert server.api_key not in issued.text
    first = await http.post("/console/sign-in", json={"ticket": ticket})
    assert first.json() == {"apiKey": server.api_key}
    assert first.headers["cache-control"] == "no-store"
    second = await http.post("/console/sign-in", json={"ticket": ticket})
    assert second.status_code == 401
    assert "already used" in second.json()["message"]


async def test_the_console_is_served_at_the_root(
    stigmer_server_factory: StigmerServerFactory, tmp_path: Path
) -> None:
    (tmp_path / "index.html").write_text("<html><body>console-marker</body></html>")
    async with (
        stigmer_server_factory(env={"STIGMER_CONSOLE_DIR": str(tmp_path)}) as running,
        httpx.AsyncClient(base_url=running.http_url, timeout=30) as client,
    ):
        page = await client.get("/")
        assert page.status_code == 200
        assert "console-marker" in page.text
        assert "default-src 'self'" in page.headers["content-security-policy"]


async def test_a_watching_browser_does_not_hold_up_shutdown(
    stigmer_server_factory: StigmerServerFactory, connect_api: Any, make: Builders, tmp_path: Path
) -> None:
    async with stigmer_server_factory(data_dir=tmp_path) as running:
        async with connect_api(running) as api:
            _, session_id = await api.new_session(make)
            execution = await api.call(
                api.executions.create, make.execution("wait", session_id=session_id)
            )
        client = httpx.AsyncClient(base_url=running.http_url, timeout=60)
        stream = client.stream(
            "POST",
            f"{EXECUTIONS_Q}/subscribe",
            content=_envelope({"executionId": execution.metadata.id}),
            headers={**_auth(running), "content-type": "application/connect+json"},
        )
        reply = await stream.__aenter__()
        assert reply.status_code == 200
        stopping_started = asyncio.get_running_loop().time()
    # Leaving the factory sends SIGTERM and waits for the exit (a kill after 15 s).
    took = asyncio.get_running_loop().time() - stopping_started
    with contextlib.suppress(httpx.HTTPError):
        await stream.__aexit__(None, None, None)
    await client.aclose()
    assert took < 9, f"shutdown took {took:.1f}s with a subscribe stream open"
    assert "stopped" in running.log(), running.log()[-2000:]
