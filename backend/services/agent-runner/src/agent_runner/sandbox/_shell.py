"""A kill-safe shell for the local sandbox, optionally inside bubblewrap.

deepagents' `LocalShellBackend` runs commands in a worker thread, which cannot be cancelled:
on a cancelled turn the command kept running. Here every command gets its own process group,
and a timeout or a cancellation kills the whole group (bubblewrap's `--die-with-parent` takes
its inner session down with it), so nothing outlives the turn. Output is read as it comes and
kept within the cap (`_output.py`), so a command printing gigabytes costs no memory.
"""

from __future__ import annotations

import asyncio
import logging
import os
import selectors
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from deepagents.backends import LocalShellBackend
from deepagents.backends.protocol import ExecuteResponse

from agent_runner.environment import Redactor
from agent_runner.sandbox._output import CappedStream, CapturedOutput, format_output
from agent_runner.sandbox._protocol import SandboxProcess
from agent_runner.sandbox._redacting import RedactingFileReads
from agent_runner.sandbox._timeouts import CommandTimeout, with_notice

logger = logging.getLogger(__name__)

TIMEOUT_EXIT_CODE = 124
# Read size per pipe read; the kept output is capped separately (sandbox/_output.py).
_CHUNK = 1 << 16
_SYSTEM_DIRS = ("bin", "lib", "lib64", "sbin")
# What ordinary tools need from /etc; the rest (shadow, ssh keys, service configs) stays out.
_ETC = (
    "alternatives",
    "ca-certificates",
    "ca-certificates.conf",
    "group",
    "host.conf",
    "hosts",
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
    "localtime",
    "nsswitch.conf",
    "passwd",
    "resolv.conf",
    "ssl",
)


def bwrap_prefix(bwrap: str, workspace: Path, *, network: bool) -> list[str]:
    """bubblewrap arguments: system read-only, the workspace writable, nothing else shared."""
    argv = [bwrap, "--ro-bind", "/usr", "/usr"]
    for entry in _ETC:
        if (Path("/etc") / entry).exists():
            argv += ["--ro-bind", f"/etc/{entry}", f"/etc/{entry}"]
    for name in _SYSTEM_DIRS:
        host = Path("/") / name
        if host.is_symlink():
            argv += ["--symlink", os.readlink(host), f"/{name}"]
        elif host.is_dir():
            argv += ["--ro-bind", str(host), f"/{name}"]
    argv += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]
    argv += ["--bind", str(workspace), str(workspace), "--chdir", str(workspace)]
    # No --new-session: the command must stay in the process group the runner kills on
    # timeout or cancel (the group is its own session already, so it has no terminal to
    # abuse); and if the outer bwrap dies first, --die-with-parent takes the rest down.
    argv += ["--unshare-all", "--die-with-parent"]
    if network:
        argv.append("--share-net")
    return argv


class SandboxShellBackend(RedactingFileReads, LocalShellBackend):
    """File tools confined to the workspace (virtual mode); commands killable and capped."""

    def __init__(
        self,
        workspace: Path,
        *,
        env: Mapping[str, str],
        timeout: int,
        max_output_bytes: int,
        sandbox_id: str,
        prefix: Sequence[str],
        redact: Redactor,
        max_timeout: int | None = None,
    ) -> None:
        super().__init__(
            root_dir=workspace,
            virtual_mode=True,
            timeout=timeout,
            max_output_bytes=max_output_bytes,
            env=dict(env),
            inherit_env=False,
        )
        self._sandbox_id = sandbox_id
        self._prefix = list(prefix)
        self._redact = redact
        # None: the model may not ask for more than the default.
        self._timeouts = CommandTimeout.of(timeout, max_timeout)

    def _argv(self, command: str) -> list[str]:
        return [*self._prefix, "/bin/sh", "-c", command]

    def process(self, argv: Sequence[str], *, env: Mapping[str, str]) -> SandboxProcess:
        """A long-lived process (an MCP stdio server) confined like the commands: the same
        bubblewrap prefix, the sandbox's environment plus `env`, the workspace as its cwd."""
        full = [*self._prefix, *argv]
        return SandboxProcess(
            command=full[0], args=full[1:], env={**self._env, **env}, cwd=str(self.cwd)
        )

    def execute(self, command: str, *, timeout: int | None = None) -> ExecuteResponse:
        if not command:
            return ExecuteResponse(output="Error: Command must be a non-empty string.", exit_code=1)
        limit, notice = self._timeouts.resolve(timeout)
        process = subprocess.Popen(
            self._argv(command),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=dict(self._env),
            cwd=str(self.cwd),
            start_new_session=True,
        )
        captured = CapturedOutput.empty(self._max_output_bytes)
        try:
            finished = _read_until_exit(process, captured, time.monotonic() + limit)
        except BaseException:
            _kill_group(process.pid)
            process.wait()
            raise
        finally:
            _close_pipes(process)
        if not finished:
            _kill_group(process.pid)
            process.wait()
            return with_notice(self._timed_out(limit), notice)
        return with_notice(self._response(captured, process.returncode), notice)

    async def aexecute(self, command: str, *, timeout: int | None = None) -> ExecuteResponse:  # noqa: ASYNC109 - deepagents' signature
        if not command:
            return ExecuteResponse(output="Error: Command must be a non-empty string.", exit_code=1)
        limit, notice = self._timeouts.resolve(timeout)
        spawn = asyncio.ensure_future(
            asyncio.create_subprocess_exec(
                *self._argv(command),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env=dict(self._env),
                cwd=str(self.cwd),
                start_new_session=True,
            )
        )
        try:
            process = await asyncio.shield(spawn)
        except asyncio.CancelledError:
            # Cancelled while starting: asyncio would kill only the direct child, and a
            # half-started bubblewrap leaves its sandbox running. Finish starting, then kill
            # the whole group.
            started = await spawn
            _kill_group(started.pid)
            await started.wait()
            raise
        captured = CapturedOutput.empty(self._max_output_bytes)
        readers = [
            asyncio.ensure_future(_drain(process.stdout, captured.stdout)),
            asyncio.ensure_future(_drain(process.stderr, captured.stderr)),
        ]
        try:
            await asyncio.wait_for(_exit(process, readers), limit)
        except TimeoutError:
            _kill_group(process.pid)
            await _reap(process, readers)
            return with_notice(self._timed_out(limit), notice)
        except BaseException:
            # Cancellation included: the command must not outlive the turn.
            _kill_group(process.pid)
            await asyncio.shield(_reap(process, readers))
            raise
        return with_notice(self._response(captured, process.returncode), notice)

    def _timed_out(self, limit: int) -> ExecuteResponse:
        return ExecuteResponse(
            output=f"Error: Command timed out after {limit} seconds and was stopped.",
            exit_code=TIMEOUT_EXIT_CODE,
        )

    def _response(self, captured: CapturedOutput, code: int | None) -> ExecuteResponse:
        return format_output(captured, code, redact=self._redact, max_bytes=self._max_output_bytes)


async def _drain(stream: asyncio.StreamReader | None, into: CappedStream) -> None:
    if stream is None:  # only when spawned without a pipe, which aexecute never does
        return
    while chunk := await stream.read(_CHUNK):
        into.feed(chunk)


async def _exit(
    process: asyncio.subprocess.Process, readers: Sequence[asyncio.Future[None]]
) -> None:
    await asyncio.gather(*readers)
    await process.wait()


async def _reap(
    process: asyncio.subprocess.Process, readers: Sequence[asyncio.Future[None]]
) -> None:
    # A killed group closes its pipes, but a process that left the group (setsid) may keep
    # them open: stop reading rather than wait for an end of file that may never come.
    for reader in readers:
        reader.cancel()
    await asyncio.gather(*readers, return_exceptions=True)
    await process.wait()


def _read_until_exit(
    process: subprocess.Popen[bytes], captured: CapturedOutput, deadline: float
) -> bool:
    """Reads both pipes as the command writes them; False when the deadline came first."""
    streams = {
        pipe.fileno(): into
        for pipe, into in ((process.stdout, captured.stdout), (process.stderr, captured.stderr))
        if pipe is not None
    }
    with selectors.DefaultSelector() as selector:
        for fd in streams:
            selector.register(fd, selectors.EVENT_READ)
        while selector.get_map():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            for key, _events in selector.select(remaining):
                chunk = os.read(key.fd, _CHUNK)
                if chunk:
                    streams[key.fd].feed(chunk)
                else:
                    selector.unregister(key.fd)
    try:
        process.wait(timeout=max(deadline - time.monotonic(), 0))
    except subprocess.TimeoutExpired:
        return False
    return True


def _close_pipes(process: subprocess.Popen[bytes]) -> None:
    for pipe in (process.stdout, process.stderr):
        if pipe is not None:
            pipe.close()


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        logger.debug("process group %d was already gone", pid)
