"""The deepagents backend of a Daytona sandbox: langchain-daytona's `DaytonaSandbox`, adapted.

Two things differ from the library's behaviour, and both are why this subclass exists:
- `aexecute` is natively async. The library runs its blocking poll loop in a thread, which a
  cancelled turn cannot stop: the command ran on until its timeout. Here the poll is an
  asyncio loop, and any exit (timeout, cancellation, error) deletes the command's Daytona
  session, which kills the command.
- The file tools see the sandbox's work directory as `/`, like the local sandbox, so an
  agent (and the skills prompt's `/skills/<slug>/SKILL.md`) behaves the same on both. The
  shell's cwd is the work directory, so `skills/<slug>/SKILL.md` works from commands too.

Output is redacted (secret values of the turn's environment), capped and formatted by the
same code as the local sandbox's (`_output.py`).
"""

from __future__ import annotations

import asyncio
import logging
import posixpath
import time
import uuid
from dataclasses import replace
from typing import Any

import daytona
from daytona import SessionExecuteRequest
from deepagents.backends.protocol import (
    EditResult,
    ExecuteResponse,
    FileDownloadResponse,
    FileUploadResponse,
    GlobResult,
    GrepResult,
    LsResult,
    ReadResult,
    WriteResult,
)
from langchain_daytona import DaytonaSandbox  # type: ignore[import-untyped]

from agent_runner.environment import Redactor
from agent_runner.sandbox._output import CapturedOutput, format_output
from agent_runner.sandbox._redacting import RedactingFileReads
from agent_runner.sandbox._timeouts import CommandTimeout, with_notice

logger = logging.getLogger(__name__)

TIMEOUT_EXIT_CODE = 124
_POLL_INTERVAL = 0.1
_CLEANUP_TIMEOUT = 10.0


# langchain-daytona ships no type information, so its class is Any to mypy.
class DaytonaCommandBackend(RedactingFileReads, DaytonaSandbox):  # type: ignore[misc]
    def __init__(
        self,
        *,
        sandbox: daytona.Sandbox,
        root: str,
        timeout: int,
        max_output_bytes: int,
        redact: Redactor,
        max_timeout: int | None = None,
    ) -> None:
        super().__init__(sandbox=sandbox, timeout=timeout)
        self._timeouts = CommandTimeout.of(timeout, max_timeout)
        self._root = root.rstrip("/") or "/"
        self._max_output_bytes = max_output_bytes
        self._redact = redact

    @property
    def sdk_sandbox(self) -> daytona.Sandbox:
        """The SDK's sandbox: its process API also hosts MCP stdio servers (agent_runner.mcp)."""
        sandbox: daytona.Sandbox = self._sandbox
        return sandbox

    @property
    def work_dir(self) -> str:
        """The sandbox's work directory, `/` to the file tools and the shell's cwd."""
        return self._root

    # -- commands -------------------------------------------------------------------------

    def execute(self, command: str, *, timeout: int | None = None) -> ExecuteResponse:
        limit, notice = self._timeouts.resolve(timeout)
        response: ExecuteResponse = super().execute(command, timeout=limit)
        return with_notice(self._finish(response), notice)

    async def aexecute(self, command: str, *, timeout: int | None = None) -> ExecuteResponse:  # noqa: ASYNC109 - deepagents' signature
        if not command:
            return ExecuteResponse(output="Error: Command must be a non-empty string.", exit_code=1)
        limit, notice = self._timeouts.resolve(timeout)
        return with_notice(await self._run(command, limit), notice)

    async def _run(self, command: str, limit: int) -> ExecuteResponse:
        process = self._sandbox.process
        session_id = f"stigmer-{uuid.uuid4().hex}"
        await asyncio.to_thread(process.create_session, session_id)
        try:
            started = await asyncio.to_thread(
                process.execute_session_command,
                session_id,
                SessionExecuteRequest(command=command, run_async=True),
            )
            command_id = started.cmd_id
            deadline = time.monotonic() + limit
            while True:
                status = await asyncio.to_thread(
                    process.get_session_command, session_id, command_id
                )
                if status.exit_code is not None:
                    break
                if time.monotonic() >= deadline:
                    return ExecuteResponse(
                        output=f"Error: Command timed out after {limit} seconds and was stopped.",
                        exit_code=TIMEOUT_EXIT_CODE,
                    )
                await asyncio.sleep(_POLL_INTERVAL)
            logs = await asyncio.to_thread(process.get_session_command_logs, session_id, command_id)
            return self._response(logs.stdout or "", logs.stderr or "", status.exit_code)
        finally:
            # Deleting the session kills whatever still runs in it; shielded so a cancelled
            # turn still waits for the kill to be delivered.
            cleanup = asyncio.ensure_future(
                asyncio.to_thread(
                    process.delete_session, session_id, request_timeout=_CLEANUP_TIMEOUT
                )
            )
            try:
                await asyncio.shield(cleanup)
            except asyncio.CancelledError:
                await cleanup
                raise
            except Exception as exc:
                logger.warning(
                    "sandbox %s: could not delete session %s: %s", self.id, session_id, exc
                )

    def _response(self, stdout: str, stderr: str, code: int) -> ExecuteResponse:
        # Daytona's logs API returns the output whole; it is kept, redacted and formatted like
        # the local sandbox's from here on.
        captured = CapturedOutput.of(stdout, stderr, self._max_output_bytes)
        return format_output(captured, code, redact=self._redact, max_bytes=self._max_output_bytes)

    def _finish(self, response: ExecuteResponse) -> ExecuteResponse:
        """The library's sync `execute` result, redacted and capped the same way."""
        captured = CapturedOutput.of(response.output, "", self._max_output_bytes)
        formatted = format_output(
            captured, 0, redact=self._redact, max_bytes=self._max_output_bytes
        )
        return ExecuteResponse(
            output=formatted.output,
            exit_code=response.exit_code,
            truncated=response.truncated or formatted.truncated,
        )

    # -- paths: the work directory is `/` ---------------------------------------------------

    def real(self, path: str) -> str:
        """The sandbox path of a tool path; already-real paths (re-entrant calls) stay."""
        if self._root == "/" or path == self._root or path.startswith(self._root + "/"):
            return path
        if not path.startswith("/"):
            return path  # deepagents reports relative paths as invalid itself
        normal = posixpath.normpath(path)
        return self._root if normal == "/" else self._root + normal

    def virtual(self, path: str) -> str:
        if self._root == "/":
            return path
        if path == self._root:
            return "/"
        if path.startswith(self._root + "/"):
            return path[len(self._root) :]
        return path

    def _text(self, text: str | None) -> str | None:
        return None if text is None or self._root == "/" else text.replace(self._root + "/", "/")

    def _entries(self, entries: list[Any] | None) -> list[Any] | None:
        if entries is None:
            return None
        return [{**entry, "path": self.virtual(entry["path"])} for entry in entries]

    async def als(self, path: str) -> LsResult:
        result: LsResult = await super().als(self.real(path))
        return LsResult(error=self._text(result.error), entries=self._entries(result.entries))

    async def aread(self, file_path: str, offset: int = 0, limit: int = 2000) -> ReadResult:
        result: ReadResult = await super().aread(self.real(file_path), offset, limit)
        return replace(result, error=self._text(result.error))

    async def awrite(self, file_path: str, content: str) -> WriteResult:
        result: WriteResult = await super().awrite(self.real(file_path), content)
        return WriteResult(
            error=self._text(result.error),
            path=self.virtual(result.path) if result.path else None,
        )

    async def aedit(
        self,
        file_path: str,
        old_string: str,
        new_string: str,
        replace_all: bool = False,
    ) -> EditResult:
        result: EditResult = await super().aedit(
            self.real(file_path), old_string, new_string, replace_all
        )
        return replace(
            result,
            error=self._text(result.error),
            path=self.virtual(result.path) if result.path else None,
        )

    async def agrep(
        self,
        pattern: str,
        path: str | None = None,
        glob: str | None = None,
        *,
        max_count: int | None = None,
    ) -> GrepResult:
        result: GrepResult = await super().agrep(
            pattern, self.real(path or "/"), glob, max_count=max_count
        )
        return replace(
            result, error=self._text(result.error), matches=self._entries(result.matches)
        )

    async def aglob(self, pattern: str, path: str | None = None) -> GlobResult:
        result: GlobResult = await super().aglob(pattern, self.real(path or "/"))
        return replace(
            result, error=self._text(result.error), matches=self._entries(result.matches)
        )

    def upload_files(self, files: list[tuple[str, bytes]]) -> list[FileUploadResponse]:
        responses: list[FileUploadResponse] = super().upload_files(
            [(self.real(path), data) for path, data in files]
        )
        return [replace(r, path=self.virtual(r.path)) for r in responses]

    def download_files(self, paths: list[str]) -> list[FileDownloadResponse]:
        responses: list[FileDownloadResponse] = super().download_files(
            [self.real(path) for path in paths]
        )
        return [replace(r, path=self.virtual(r.path)) for r in responses]
