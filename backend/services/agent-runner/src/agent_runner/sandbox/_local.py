"""The `local` sandbox: a workspace directory per session under the data directory.

Commands see only the turn's merged environment plus a minimal PATH and HOME, never the
runner's own environment (which holds its API key). bubblewrap isolates them when the host
allows it; without it commands run as the runner's user, which start-up warns about once.
"""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

from agent_runner.config import LocalSandboxSettings
from agent_runner.errors import InvalidInputError, SandboxStartError
from agent_runner.sandbox._protocol import OwnedSandbox, Sandbox, SandboxRequest
from agent_runner.sandbox._shell import SandboxShellBackend, bwrap_prefix

logger = logging.getLogger(__name__)

LOCAL_PREFIX = "local-"
MINIMAL_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def probe_bwrap(root: Path) -> str | None:
    """The bwrap binary when it can actually start a sandbox here (user namespaces allowed)."""
    binary = shutil.which("bwrap")
    if binary is None:
        return None
    root.mkdir(parents=True, exist_ok=True)
    argv = [*bwrap_prefix(binary, root, network=False), "/bin/sh", "-c", "true"]
    try:
        result = subprocess.run(argv, capture_output=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        logger.warning("bubblewrap is installed but could not start: %s", exc)
        return None
    if result.returncode != 0:
        logger.warning(
            "bubblewrap is installed but could not start a sandbox (exit %d): %s",
            result.returncode,
            result.stderr.decode(errors="replace").strip(),
        )
        return None
    return binary


class LocalSandboxProvider:
    kind = "local"

    def __init__(self, settings: LocalSandboxSettings) -> None:
        self._settings = settings
        self._bwrap: str | None = None
        if settings.isolation != "none":
            self._bwrap = probe_bwrap(settings.root)
            if self._bwrap is None and settings.isolation == "bwrap":
                raise SandboxStartError(
                    "SANDBOX_ISOLATION=bwrap but bubblewrap cannot start a sandbox on this host"
                )
            if self._bwrap is None:
                logger.warning(
                    "bubblewrap (bwrap) is not usable here: local sandbox commands run "
                    "unisolated as the runner's user; install bubblewrap to isolate them"
                )

    @property
    def isolated(self) -> bool:
        return self._bwrap is not None

    async def acquire(self, request: SandboxRequest) -> Sandbox:
        session_id, sandbox_id = request.session_id, request.sandbox_id
        workspace = self._workspace(sandbox_id) if sandbox_id else None
        if workspace is None or not workspace.is_dir():
            if sandbox_id:
                logger.info("sandbox %s is gone; creating a new one for the session", sandbox_id)
            sandbox_id = f"{LOCAL_PREFIX}{session_id}"
            workspace = self._workspace(sandbox_id)
            if workspace is None:
                raise InvalidInputError(
                    f"session_id {session_id!r} cannot name a sandbox directory"
                )
            try:
                workspace.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise SandboxStartError(f"cannot create the workspace {workspace}: {exc}") from exc
        # The directory's mtime is the workspace's last use, which the reaper ages it by.
        workspace.touch()
        variables = {"PATH": MINIMAL_PATH, "HOME": str(workspace), **request.env}
        prefix = (
            bwrap_prefix(self._bwrap, workspace, network=self._settings.network)
            if self._bwrap
            else []
        )
        backend = SandboxShellBackend(
            workspace,
            env=variables,
            timeout=self._settings.command_timeout,
            max_timeout=self._settings.max_command_timeout,
            max_output_bytes=self._settings.max_output_bytes,
            sandbox_id=sandbox_id,
            prefix=prefix,
            redact=request.redact,
        )
        return Sandbox(id=sandbox_id, backend=backend)

    async def list_owned(self) -> list[OwnedSandbox]:
        # Every directory under the runner's own root is ours: the root is the owner label.
        if not self._settings.root.is_dir():
            return []
        owned = []
        for entry in self._settings.root.iterdir():
            if entry.is_dir() and self._workspace(entry.name) == entry:
                owned.append(
                    OwnedSandbox(
                        id=entry.name,
                        session_id=entry.name.removeprefix(LOCAL_PREFIX),
                        last_active=datetime.fromtimestamp(entry.stat().st_mtime, UTC),
                    )
                )
        return owned

    async def delete(self, sandbox_id: str) -> bool:
        workspace = self._workspace(sandbox_id)
        if workspace is None:
            raise InvalidInputError(
                f"sandbox_id {sandbox_id!r} is not a local workspace of this runner "
                f"(expected {LOCAL_PREFIX}<session id>)"
            )
        if not workspace.is_dir():
            return False
        shutil.rmtree(workspace)
        logger.info("local workspace %s deleted", sandbox_id)
        return True

    def _workspace(self, sandbox_id: str) -> Path | None:
        # Another provider's id (or a hand-pinned path) never maps into our directory.
        if not sandbox_id.startswith(LOCAL_PREFIX) or not _SAFE_ID.match(sandbox_id):
            return None
        return self._settings.root / sandbox_id
