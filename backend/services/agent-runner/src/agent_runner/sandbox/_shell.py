"""A kill-safe shell for the local sandbox, optionally inside bubblewrap.

deepagents' `LocalShellBackend` runs commands in a worker thread, which cannot be cancelled:
on a cancelled turn the command kept running. Here every command gets its own process group,
and a timeout or a cancellation kills the whole group (bubblewrap's `--die-with-parent` takes
its inner session down with it), so nothing outlives the turn.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from deepagents.backends import LocalShellBackend
from deepagents.backends.protocol import ExecuteResponse

from agent_runner.environment import Redactor
from agent_runner.sandbox._redacting import RedactingFileReads

logger = logging.getLogger(__name__)

TIMEOUT_EXIT_CODE = 124
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

    def _argv(self, command: str) -> list[str]:
        return [*self._prefix, "/bin/sh", "-c", command]

    def _timeout(self, timeout: int | None) -> int:
        effective = timeout if timeout is not None else self._default_timeout
        if effective <= 0:
            raise ValueError(f"timeout must be positive, got {effective}")
        return effective

    def execute(self, command: str, *, timeout: int | None = None) -> ExecuteResponse:
        if not command:
            return ExecuteResponse(output="Error: Command must be a non-empty string.", exit_code=1)
        limit = self._timeout(timeout)
        process = subprocess.Popen(
            self._argv(command),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=dict(self._env),
            cwd=str(self.cwd),
            start_new_session=True,
        )
        try:
            stdout, stderr = process.communicate(timeout=limit)
        except subprocess.TimeoutExpired:
            _kill_group(process.pid)
            process.communicate()
            return self._timed_out(limit)
        except BaseException:
            _kill_group(process.pid)
            process.wait()
            raise
        return self._response(stdout, stderr, process.returncode)

    async def aexecute(self, command: str, *, timeout: int | None = None) -> ExecuteResponse:  # noqa: ASYNC109 - deepagents' signature
        if not command:
            return ExecuteResponse(output="Error: Command must be a non-empty string.", exit_code=1)
        limit = self._timeout(timeout)
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
        try:
            stdout, stderr = await asyncio.wait_for(process.communicate(), limit)
        except TimeoutError:
            _kill_group(process.pid)
            await process.wait()
            return self._timed_out(limit)
        except BaseException:
            # Cancellation included: the command must not outlive the turn.
            _kill_group(process.pid)
            await asyncio.shield(process.wait())
            raise
        return self._response(stdout, stderr, process.returncode)

    def _timed_out(self, limit: int) -> ExecuteResponse:
        return ExecuteResponse(
            output=f"Error: Command timed out after {limit} seconds and was stopped.",
            exit_code=TIMEOUT_EXIT_CODE,
        )

    def _response(self, stdout: bytes, stderr: bytes, code: int | None) -> ExecuteResponse:
        parts = []
        out = stdout.decode("utf-8", errors="replace")
        err = stderr.decode("utf-8", errors="replace")
        if out:
            parts.append(out)
        if err:
            parts.extend(f"[stderr] {line}" for line in err.strip().split("\n"))
        output = self._redact("\n".join(parts) if parts else "<no output>")
        truncated = False
        encoded = output.encode("utf-8")
        if len(encoded) > self._max_output_bytes:
            output = encoded[: self._max_output_bytes].decode("utf-8", errors="ignore")
            output += f"\n\n... Output truncated at {self._max_output_bytes} bytes."
            truncated = True
        if code not in (0, None):
            output = f"{output.rstrip()}\n\nExit code: {code}"
        return ExecuteResponse(output=output, exit_code=code, truncated=truncated)


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        logger.debug("process group %d was already gone", pid)
