"""An MCP session held for one turn by a task of its own.

The MCP transports are anyio task groups, and a task group cancels the task that entered
it when one of its own tasks fails: entered by the turn, a server that goes away mid-turn
would cancel the turn itself. So each server's session is opened, held and closed by an
owner task (anyio also wants the same task to open and close it); the turn only sends
requests through the session. The turn's stack stops the owner when the turn ends or is
cancelled, which stops a stdio server's process and ends an HTTP session, a slow tool
call with it. A server lost mid-turn only fails the calls made to it, as tool errors:
while calls wait, the owner pings the server every PING_INTERVAL seconds, and a ping that
cannot reach it ends the session (a streamable HTTP server that goes away during a call
may otherwise leave the call waiting with no error).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from contextlib import AsyncExitStack
from typing import Any

from langchain_core.tools import BaseTool
from mcp import ClientSession

from agent_runner.errors import McpServerUnavailable
from agent_runner.mcp._connect import allowed_tools, load_error, load_server, tool_timeout
from agent_runner.mcp._guard import ToolCallGuard
from ai.stigmer.agentic.mcpserver.v1.api_pb2 import McpServer

logger = logging.getLogger(__name__)

PING_INTERVAL = 5.0


async def open_server(
    stack: AsyncExitStack, server: McpServer, *, variables: Mapping[str, str], sandbox: Any
) -> list[BaseTool]:
    """The server's tools (MCP names, allow-list applied), alive until `stack` closes."""
    ready: asyncio.Future[list[BaseTool]] = asyncio.get_running_loop().create_future()
    stop = asyncio.Event()
    guard = ToolCallGuard(tool_timeout(server))
    owner = asyncio.create_task(
        _hold(server, variables, sandbox, ready, stop, guard), name=f"mcp-{server.metadata.slug}"
    )

    async def close() -> None:
        if ready.done() and not ready.cancelled() and ready.exception() is None:
            stop.set()
        else:
            owner.cancel()
        await asyncio.wait([owner])
        if ready.done() and not ready.cancelled():
            # Retrieved, so that a start the turn stopped waiting for is not reported as an
            # exception nobody looked at.
            ready.exception()

    stack.push_async_callback(close)
    # Shielded: a turn cancelled while the server starts must not cancel `ready`, which the
    # owner still sets; `close` then stops the owner.
    return allowed_tools(server, await asyncio.shield(ready))


async def _hold(
    server: McpServer,
    variables: Mapping[str, str],
    sandbox: Any,
    ready: asyncio.Future[list[BaseTool]],
    stop: asyncio.Event,
    guard: ToolCallGuard,
) -> None:
    slug = server.metadata.slug
    try:
        async with AsyncExitStack() as own:
            session, tools = await load_server(
                own, server, variables=variables, sandbox=sandbox, guard=guard
            )
            ready.set_result(tools)
            await _watch(session, stop, guard)
    except asyncio.CancelledError:
        if not ready.done():
            ready.set_exception(McpServerUnavailable(f"McpServer {slug!r}: stopped while starting"))
        # Only `close` cancels this task; a transport's own cancel ends in its error instead.
        raise
    except Exception as exc:
        if not ready.done():
            ready.set_exception(load_error(server, exc))
        else:
            logger.warning("McpServer %s: session lost during the turn: %s", slug, exc)
    finally:
        guard.session_ended.set()


async def _watch(session: ClientSession, stop: asyncio.Event, guard: ToolCallGuard) -> None:
    """Until the turn is done: ping the server while calls wait for it. A ping that cannot
    reach the server fails the transport, which ends this task's session."""
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(PING_INTERVAL):
                await stop.wait()
        if guard.pending and not stop.is_set():
            # A slow answer is not a lost server: only a failure to reach it counts.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(PING_INTERVAL):
                    await session.send_ping()
