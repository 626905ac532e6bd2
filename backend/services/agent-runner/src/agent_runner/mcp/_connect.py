"""One MCP server's session: started (stdio, inside the session's sandbox) or reached
(streamable HTTP), initialized, its tools listed, every failure named by server.

`_held.py` runs this in a task of its own that keeps the session for the turn.
"""

from __future__ import annotations

import asyncio
import logging
import posixpath
import sys
from collections.abc import Mapping
from contextlib import AsyncExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
from langchain_core.tools import BaseTool
from langchain_mcp_adapters.interceptors import ToolCallInterceptor
from langchain_mcp_adapters.tools import load_mcp_tools
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import DEFAULT_INHERITED_ENV_VARS, stdio_client
from mcp.client.streamable_http import streamable_http_client

from agent_runner.errors import InvalidInputError, McpServerUnavailable
from agent_runner.mcp._values import resolve_values
from agent_runner.sandbox import ProcessSandbox
from ai.stigmer.agentic.mcpserver.v1.api_pb2 import McpServer

if TYPE_CHECKING:
    from agent_runner.mcp._daytona_stdio import DaytonaStdioServer
    from agent_runner.sandbox._daytona_backend import DaytonaCommandBackend

logger = logging.getLogger(__name__)

# Starting a server (a stdio server's imports, an HTTP handshake) and listing its tools; a
# server that hangs there would otherwise hold the turn for ever.
LOAD_TIMEOUT = 60.0
# Where a stdio server's stderr goes, relative to the sandbox's workspace: its crash
# reasons stay readable there instead of mixing into the runner's own log.
STDERR_DIR = ".stigmer/mcp"
# A tool call's wait when the McpServer sets no `tool_timeout`.
DEFAULT_TOOL_TIMEOUT = 600.0
# Connect, write and pool; reads wait for a tool's answer, so they outlast the tool timeout.
_HTTP_CONNECT_TIMEOUT = 30.0
# HTTP statuses a retry cannot change: the runner's credentials or the URL are wrong.
_PERMANENT_STATUSES = range(400, 500)


async def load_server(
    stack: AsyncExitStack,
    server: McpServer,
    *,
    variables: Mapping[str, str],
    sandbox: Any,
    guard: ToolCallInterceptor,
) -> tuple[ClientSession, list[BaseTool]]:
    try:
        async with asyncio.timeout(LOAD_TIMEOUT):
            session = await _session(stack, server, variables=variables, sandbox=sandbox)
            await session.initialize()
            tools = await load_mcp_tools(
                session,
                server_name=server.metadata.slug,
                tool_interceptors=[guard],
            )
            return session, tools
    except TimeoutError:
        raise McpServerUnavailable(
            f"McpServer {server.metadata.slug!r}: no answer within {LOAD_TIMEOUT:.0f} s "
            f"while starting and listing its tools{_where(server)}"
        ) from None


async def _session(
    stack: AsyncExitStack, server: McpServer, *, variables: Mapping[str, str], sandbox: Any
) -> ClientSession:
    spec, slug = server.spec, server.metadata.slug
    if spec.WhichOneof("transport") == "stdio":
        read, write = await _stdio(stack, server, variables=variables, sandbox=sandbox)
    elif spec.WhichOneof("transport") == "streamable_http":
        headers = resolve_values(
            spec.streamable_http.headers,
            variables,
            where=f"McpServer {slug!r} spec.streamable_http.headers",
        )
        client = await stack.enter_async_context(
            httpx.AsyncClient(
                headers=headers,
                timeout=httpx.Timeout(
                    _HTTP_CONNECT_TIMEOUT, read=tool_timeout(server) + _HTTP_CONNECT_TIMEOUT
                ),
            )
        )
        read, write, _ = await stack.enter_async_context(
            streamable_http_client(spec.streamable_http.url, http_client=client)
        )
    else:
        raise InvalidInputError(f"McpServer {slug!r}: spec has no transport (stdio or HTTP)")
    return await stack.enter_async_context(ClientSession(read, write))


async def _stdio(
    stack: AsyncExitStack, server: McpServer, *, variables: Mapping[str, str], sandbox: Any
) -> Any:
    slug, stdio = server.metadata.slug, server.spec.stdio
    if (daytona_sandbox := _daytona(sandbox)) is not None:
        from agent_runner.mcp._daytona_stdio import daytona_stdio_client

        return await stack.enter_async_context(
            daytona_stdio_client(
                daytona_sandbox.sdk_sandbox, _daytona_server(server, variables, daytona_sandbox)
            )
        )
    if not isinstance(sandbox, ProcessSandbox):
        raise InvalidInputError(
            f"McpServer {slug!r}: a stdio server runs inside the session's sandbox, and this "
            f"runner's sandbox ({type(sandbox).__name__}) cannot host one; use the local or "
            "Daytona sandbox, or a streamable_http server"
        )
    env = resolve_values(stdio.env, variables, where=f"McpServer {slug!r} spec.stdio.env")
    # The MCP SDK adds a few of the runner's own variables (USER, SHELL...) under the
    # given environment; `env -u` drops those the sandbox's environment does not set itself.
    process = sandbox.process(["/usr/bin/env"], env=env)
    dropped = [name for name in DEFAULT_INHERITED_ENV_VARS if name not in process.env]
    argv = ["/usr/bin/env", *(a for n in dropped for a in ("-u", n)), stdio.command, *stdio.args]
    process = sandbox.process(argv, env=env)
    log = Path(process.cwd) / STDERR_DIR / f"{slug}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    errlog = stack.enter_context(log.open("a", encoding="utf-8"))
    params = StdioServerParameters(
        command=process.command, args=process.args, env=process.env, cwd=process.cwd
    )
    return await stack.enter_async_context(stdio_client(params, errlog=errlog))


def _daytona(sandbox: Any) -> DaytonaCommandBackend | None:
    # The Daytona SDK is slow to import: a runner that never loaded it has no such sandbox.
    if "agent_runner.sandbox._daytona_backend" not in sys.modules:
        return None
    from agent_runner.sandbox._daytona_backend import DaytonaCommandBackend

    return sandbox if isinstance(sandbox, DaytonaCommandBackend) else None


def _daytona_server(
    server: McpServer, variables: Mapping[str, str], sandbox: DaytonaCommandBackend
) -> DaytonaStdioServer:
    from agent_runner.mcp._daytona_stdio import DaytonaStdioServer

    slug, stdio = server.metadata.slug, server.spec.stdio
    return DaytonaStdioServer(
        slug=slug,
        argv=[stdio.command, *stdio.args],
        env=resolve_values(stdio.env, variables, where=f"McpServer {slug!r} spec.stdio.env"),
        work_dir=sandbox.work_dir,
        stderr_path=posixpath.join(sandbox.work_dir, STDERR_DIR, f"{slug}.log"),
    )


def tool_timeout(server: McpServer) -> float:
    """How long one call to `server` may wait for its answer, in seconds."""
    if not server.spec.HasField("tool_timeout"):
        return DEFAULT_TOOL_TIMEOUT
    return server.spec.tool_timeout.ToTimedelta().total_seconds()


def allowed_tools(server: McpServer, tools: list[BaseTool]) -> list[BaseTool]:
    allowed = list(server.spec.tools)
    if not allowed:
        return tools
    offered = {tool.name for tool in tools}
    missing = [name for name in allowed if name not in offered]
    if missing:
        raise InvalidInputError(
            f"McpServer {server.metadata.slug!r}: spec.tools names {missing}, which the "
            f"server does not offer (it offers {sorted(offered)})"
        )
    return [tool for tool in tools if tool.name in allowed]


def load_error(server: McpServer, exc: Exception) -> Exception:
    if isinstance(exc, InvalidInputError | McpServerUnavailable):
        return exc
    slug, leaf = server.metadata.slug, leaf_error(exc)
    if isinstance(leaf, httpx.HTTPStatusError):
        status = leaf.response.status_code
        text = f"McpServer {slug!r}: {leaf.request.url} answered HTTP {status}"
        if status in _PERMANENT_STATUSES:
            hint = " (check its headers and the credentials they name)" if status < 404 else ""
            return InvalidInputError(f"{text}{hint}")
        return McpServerUnavailable(text)
    if isinstance(leaf, FileNotFoundError):
        return InvalidInputError(
            f"McpServer {slug!r}: command {server.spec.stdio.command!r} not found: {leaf}"
        )
    if server.spec.WhichOneof("transport") == "stdio":
        return McpServerUnavailable(
            f"McpServer {slug!r}: the stdio server exited or did not answer ({leaf}); its "
            f"stderr is in the sandbox at {STDERR_DIR}/{slug}.log"
        )
    return McpServerUnavailable(f"McpServer {slug!r}: cannot reach{_where(server)}: {leaf}")


def _where(server: McpServer) -> str:
    if server.spec.WhichOneof("transport") == "streamable_http":
        return f" {server.spec.streamable_http.url}"
    return ""


def leaf_error(exc: BaseException) -> BaseException:
    """The first error inside nested exception groups (anyio wraps transport failures)."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc
