"""Real MCP servers for the runner's tests: a FastMCP server over streamable HTTP on
loopback behind a bearer token, and the example's stdio server (examples/mcp)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import uvicorn
import yaml
from google.protobuf import json_format
from mcp.server.fastmcp import Context, FastMCP

from ai.stigmer.agentic.mcpserver.v1.api_pb2 import McpServer
from stigmer_testing import eventually_async

EXAMPLE = Path(__file__).resolve().parents[5] / "examples" / "mcp" / "mcp-server.yaml"


class BearerAuth:
    """Pure ASGI: HTTP requests without the right bearer token get 401; lifespan passes."""

    def __init__(self, app: Any, token: str) -> None:
        self._app = app
        self._expected = f"Bearer {token}".encode()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and dict(scope["headers"]).get(b"authorization") != (
            self._expected
        ):
            await send({"type": "http.response.start", "status": 401, "headers": []})
            await send({"type": "http.response.body", "body": b"unauthorized"})
            return
        await self._app(scope, receive, send)


class SlowTool:
    """What happened to the `slow` tool's calls, for a test to wait on."""

    def __init__(self) -> None:
        self.started = asyncio.Event()
        self.cancelled = asyncio.Event()


def http_server(token: str, slow_tool: SlowTool | None = None) -> Any:
    mcp = FastMCP("alpha")
    watch = slow_tool or SlowTool()

    @mcp.tool()
    def echo(text: str) -> str:
        """Answer the text back."""
        return f"[http] {text}"

    @mcp.tool()
    def whoami(ctx: Context[Any, Any, Any]) -> str:
        """The Authorization header this server received (a careless server's echo)."""
        request = ctx.request_context.request
        return f"you sent {request.headers.get('authorization') if request else None}"

    @mcp.tool()
    def fail(text: str) -> str:
        """Always fails."""
        raise ValueError(f"boom: {text}")

    @mcp.tool()
    def hidden() -> str:
        """Not in the allow-list."""
        return "should not be callable"

    @mcp.tool()
    async def slow(seconds: float) -> str:
        """Sleeps, then answers."""
        watch.started.set()
        try:
            await asyncio.sleep(seconds)
        except asyncio.CancelledError:
            watch.cancelled.set()
            raise
        return "slept"

    return BearerAuth(mcp.streamable_http_app(), token)


@contextlib.asynccontextmanager
async def serving(app: Any) -> AsyncIterator[str]:
    """`app` served on a loopback port of its own; yields the MCP endpoint URL."""
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host="127.0.0.1",
            port=0,
            log_level="warning",
            lifespan="on",
            # An open tool call's stream must not hold the server up: tests stop it mid-call.
            timeout_graceful_shutdown=1,
        )
    )
    task = asyncio.create_task(server.serve())
    try:
        await eventually_async(
            lambda: server.started, timeout=30, interval=0.02, message="uvicorn to start"
        )
        port = server.servers[0].sockets[0].getsockname()[1]
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        server.should_exit = True
        await task


def example_stdio_server(slug: str) -> McpServer:
    """The example's McpServer (its stdio program inline), under another slug, every tool."""
    server = json_format.ParseDict(yaml.safe_load(EXAMPLE.read_text()), McpServer())
    server.metadata.Clear()
    server.metadata.name = slug
    server.metadata.slug = slug
    del server.spec.tools[:]
    return server


def http_mcp_server(slug: str, url: str, *, tools: list[str]) -> McpServer:
    server = McpServer(api_version="agentic.stigmer.ai/v1", kind="McpServer")
    server.metadata.name = slug
    server.metadata.slug = slug
    server.spec.streamable_http.url = url
    server.spec.streamable_http.headers["Authorization"] = "Bearer ${MCP_TOKEN}"
    server.spec.tools.extend(tools)
    return server
