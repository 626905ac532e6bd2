"""A stdio MCP server inside a Daytona sandbox, spoken to through the toolbox's process API.

Daytona gives no pipe to a process. Its process API has what a pipe needs: a session command
run in the background, an endpoint that writes to that command's stdin, and the command's
logs. So the server runs as a session command (input echo suppressed, so its log holds only
what the server writes); each client message goes in as one line of input, and the stdout log
is read from the end of the last whole line read before, one JSON-RPC message per line.

The log is polled, as the runner's commands are: at once after a message was sent, then
backing off to POLL_MAX while the server is quiet. A poll returns the whole stdout so far,
which is what not holding the SDK's logs websocket costs (docs/guides/mcp.md says so).

The server's environment is not put on its command line, which Daytona lists with the
session: it is uploaded as a file, sourced and deleted by the command before the server
starts. Deleting the session when the turn ends kills the server.
"""

from __future__ import annotations

import asyncio
import logging
import posixpath
import re
import shlex
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import anyio
import daytona
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from daytona import SessionExecuteRequest

# The class's own module: the package exports it lazily, which mypy cannot follow.
from daytona._sync.process import Process
from mcp import types
from mcp.shared.message import SessionMessage

from agent_runner.errors import InvalidInputError

logger = logging.getLogger(__name__)

POLL_MIN = 0.02
POLL_MAX = 0.5
_CLEANUP_TIMEOUT = 10.0
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

ReadStream = MemoryObjectReceiveStream[SessionMessage | Exception]
WriteStream = MemoryObjectSendStream[SessionMessage]


@dataclass(frozen=True)
class DaytonaStdioServer:
    """What to start: `argv` in `work_dir`, `env` on top of the sandbox's, stderr to a file."""

    slug: str
    argv: Sequence[str]
    env: Mapping[str, str]
    work_dir: str
    stderr_path: str

    def command(self, env_file: str) -> str:
        q = shlex.quote
        program = " ".join(q(arg) for arg in self.argv)
        # The env file is removed whether or not sourcing it worked: it may hold secrets.
        return (
            f"cd {q(self.work_dir)} && mkdir -p {q(posixpath.dirname(self.stderr_path))} && "
            f"{{ set -a; . {q(env_file)}; loaded=$?; set +a; rm -f {q(env_file)}; }} && "
            f'[ "$loaded" = 0 ] && exec {program} 2>>{q(self.stderr_path)}'
        )

    def env_script(self) -> str:
        bad = [name for name in self.env if not _NAME.fullmatch(name)]
        if bad:
            raise InvalidInputError(
                f"McpServer {self.slug!r} spec.stdio.env: {bad} are not variable names "
                "(letters, digits and '_', not starting with a digit)"
            )
        return "".join(f"{name}={shlex.quote(value)}\n" for name, value in self.env.items())


@asynccontextmanager
async def daytona_stdio_client(
    sandbox: daytona.Sandbox, server: DaytonaStdioServer
) -> AsyncIterator[tuple[ReadStream, WriteStream]]:
    """The server's message streams, as `mcp.client.stdio.stdio_client` gives a local one's."""
    process = sandbox.process
    session_id = f"stigmer-mcp-{uuid.uuid4().hex}"
    env_file = posixpath.join(posixpath.dirname(server.stderr_path), f"{session_id}.env")
    await asyncio.to_thread(sandbox.fs.upload_file, server.env_script().encode(), env_file)
    await asyncio.to_thread(process.create_session, session_id)
    try:
        started = await asyncio.to_thread(
            process.execute_session_command,
            session_id,
            SessionExecuteRequest(
                command=server.command(env_file), run_async=True, suppress_input_echo=True
            ),
        )
        pipe = _Pipe(process, session_id, started.cmd_id)
        async with pipe.streams() as streams:
            yield streams
    finally:
        await _delete_session(process, session_id)


@dataclass
class _Pipe:
    process: Process
    session_id: str
    command_id: str
    sent: asyncio.Event = field(default_factory=asyncio.Event)

    @asynccontextmanager
    async def streams(self) -> AsyncIterator[tuple[ReadStream, WriteStream]]:
        sink, read = anyio.create_memory_object_stream[SessionMessage | Exception](0)
        write, source = anyio.create_memory_object_stream[SessionMessage](0)
        async with anyio.create_task_group() as tasks, read, write:
            tasks.start_soon(self._read, sink)
            tasks.start_soon(self._write, source)
            try:
                yield read, write
            finally:
                tasks.cancel_scope.cancel()

    async def _read(self, sink: MemoryObjectSendStream[SessionMessage | Exception]) -> None:
        offset, delay = 0, POLL_MIN
        async with sink:
            while True:
                # Cleared before the read: a message sent during it ends the wait below.
                self.sent.clear()
                exited = await self._exited()
                out = await self._stdout()
                # Up to the last newline only: a line still being written is read next time.
                end = len(out) if exited else out.rfind("\n") + 1
                for line in out[offset:end].splitlines():
                    if line.strip():
                        await sink.send(_message(line))
                if exited:
                    return
                if end > offset:
                    offset, delay = end, POLL_MIN
                    continue
                with anyio.move_on_after(delay):
                    await self.sent.wait()
                delay = POLL_MIN if self.sent.is_set() else min(delay * 2, POLL_MAX)

    async def _write(self, source: MemoryObjectReceiveStream[SessionMessage]) -> None:
        async with source:
            async for message in source:
                line = message.message.model_dump_json(by_alias=True, exclude_none=True)
                await asyncio.to_thread(
                    self.process.send_session_command_input,
                    self.session_id,
                    self.command_id,
                    line + "\n",
                )
                self.sent.set()

    async def _stdout(self) -> str:
        logs = await asyncio.to_thread(
            self.process.get_session_command_logs, self.session_id, self.command_id
        )
        return logs.stdout or ""

    async def _exited(self) -> bool:
        status = await asyncio.to_thread(
            self.process.get_session_command, self.session_id, self.command_id
        )
        return status.exit_code is not None


def _message(line: str) -> SessionMessage | Exception:
    try:
        return SessionMessage(types.JSONRPCMessage.model_validate_json(line))
    except Exception as exc:  # handed to the session, as the SDK's stdio transport does
        return exc


async def _delete_session(process: Process, session_id: str) -> None:
    # Shielded: a cancelled turn still waits until the kill is delivered.
    cleanup = asyncio.ensure_future(
        asyncio.to_thread(process.delete_session, session_id, request_timeout=_CLEANUP_TIMEOUT)
    )
    try:
        await asyncio.shield(cleanup)
    except asyncio.CancelledError:
        await cleanup
        raise
    except Exception as exc:
        logger.warning("could not delete the MCP server's session %s: %s", session_id, exc)
