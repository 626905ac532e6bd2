"""The `daytona` sandbox: one Daytona sandbox per session, on the official SDK.

The session's sandbox is reused while it is started and answers a health command, started
when Daytona stopped it (auto-stop), and replaced when it is gone, errored or unhealthy; the
turn then stores the new id on the session. The SDK is synchronous (langchain-daytona needs
the sync client), so every call runs in a thread.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from daytona import (
    CreateSandboxFromImageParams,
    CreateSandboxFromSnapshotParams,
    Daytona,
    DaytonaConfig,
    DaytonaError,
    DaytonaNotFoundError,
    ListSandboxesQuery,
)
from daytona import Sandbox as DaytonaSdkSandbox

from agent_runner.config import DaytonaSettings
from agent_runner.errors import InvalidInputError, SandboxStartError
from agent_runner.sandbox._daytona_backend import DaytonaCommandBackend
from agent_runner.sandbox._protocol import (
    LABEL_ORG,
    LABEL_OWNER,
    LABEL_SESSION,
    OwnedSandbox,
    Sandbox,
    SandboxRequest,
)

logger = logging.getLogger(__name__)

_HEALTH_COMMAND = "true"
_HEALTH_TIMEOUT = 10
_BROKEN_STATES = {"error", "build_failed", "destroyed", "destroying"}
# Already on its way to `started` (another runner's turn, or Daytona restoring it).
_COMING_UP = {"creating", "starting", "restoring", "pending_build", "building_snapshot"}


class DaytonaSandboxProvider:
    kind = "daytona"

    def __init__(self, settings: DaytonaSettings, *, owner: str) -> None:
        self._settings = settings
        self._owner = owner
        # Explicit config: the SDK would otherwise read .env files from the working directory.
        self._client = Daytona(
            DaytonaConfig(
                api_key=settings.api_key, api_url=settings.api_url, target=settings.target or None
            )
        )

    async def acquire(self, request: SandboxRequest) -> Sandbox:
        try:
            sandbox = await asyncio.to_thread(self._acquire, request)
            root = await asyncio.to_thread(sandbox.get_work_dir)
        except DaytonaError as exc:
            raise SandboxStartError(
                f"Daytona sandbox for session {request.session_id}: {exc}"
            ) from exc
        backend = DaytonaCommandBackend(
            sandbox=sandbox,
            root=root,
            timeout=self._settings.command_timeout,
            max_timeout=self._settings.max_command_timeout,
            max_output_bytes=self._settings.max_output_bytes,
            redact=request.redact,
        )
        return Sandbox(id=sandbox.id, backend=backend)

    def _acquire(self, request: SandboxRequest) -> DaytonaSdkSandbox:
        if request.sandbox_id:
            existing = self._reusable(request.sandbox_id, org=request.org)
            if existing is not None:
                _warn_on_changed_env(existing, request)
                return existing
        return self._create(request)

    def _reusable(self, sandbox_id: str, *, org: str) -> DaytonaSdkSandbox | None:
        try:
            sandbox = self._client.get(sandbox_id)
        except DaytonaNotFoundError:
            logger.info("sandbox %s is gone; creating a new one for the session", sandbox_id)
            return None
        if (sandbox.labels or {}).get(LABEL_ORG, "") != org:
            # Its files and environment are another org's (the server refuses such a pin;
            # this holds even for a sandbox it cannot know). Left alone, not deleted.
            logger.warning(
                "sandbox %s is not of the session's org %r; creating one of its own",
                sandbox_id,
                org,
            )
            return None
        state = _state(sandbox)
        if state in _BROKEN_STATES:
            logger.warning("sandbox %s is %s; replacing it", sandbox_id, state)
            self._discard(sandbox)
            return None
        timeout = self._settings.start_timeout
        if state in _COMING_UP:
            logger.info("sandbox %s is %s; waiting for it", sandbox_id, state)
            sandbox.wait_for_sandbox_start(timeout=timeout)
        elif state != "started":
            if state == "stopping":
                sandbox.wait_for_sandbox_stop(timeout=timeout)
            logger.info("sandbox %s is %s; starting it", sandbox_id, state)
            sandbox.start(timeout=timeout)
        try:
            health = sandbox.process.exec(_HEALTH_COMMAND, timeout=_HEALTH_TIMEOUT)
        except DaytonaError as exc:
            logger.warning("sandbox %s does not answer (%s); replacing it", sandbox_id, exc)
            self._discard(sandbox)
            return None
        if health.exit_code != 0:
            logger.warning(
                "sandbox %s health check exited %d; replacing it", sandbox_id, health.exit_code
            )
            self._discard(sandbox)
            return None
        return sandbox

    def _create(self, request: SandboxRequest) -> DaytonaSdkSandbox:
        spec = request.spec
        labels = {LABEL_OWNER: self._owner, LABEL_SESSION: request.session_id}
        if request.org:
            labels[LABEL_ORG] = request.org
        settings = self._settings
        params: CreateSandboxFromImageParams | CreateSandboxFromSnapshotParams
        if spec.image:
            params = CreateSandboxFromImageParams(
                image=spec.image,
                env_vars=dict(request.env),
                labels=labels,
                auto_stop_interval=settings.auto_stop_minutes,
                auto_delete_interval=settings.auto_delete_minutes,
            )
        else:
            params = CreateSandboxFromSnapshotParams(
                snapshot=spec.snapshot or settings.snapshot or None,
                env_vars=dict(request.env),
                labels=labels,
                auto_stop_interval=settings.auto_stop_minutes,
                auto_delete_interval=settings.auto_delete_minutes,
            )
        sandbox = self._client.create(params, timeout=self._settings.start_timeout)
        logger.info("session %s: Daytona sandbox %s created", request.session_id, sandbox.id)
        return sandbox

    def _discard(self, sandbox: DaytonaSdkSandbox) -> None:
        # Only ours: a pinned sandbox of another owner is left alone even when broken.
        if (sandbox.labels or {}).get(LABEL_OWNER) != self._owner:
            return
        try:
            self._client.delete(sandbox)
        except DaytonaError as exc:
            logger.warning("could not delete broken sandbox %s: %s", sandbox.id, exc)

    async def list_owned(self) -> list[OwnedSandbox]:
        return await asyncio.to_thread(self._list_owned)

    def _list_owned(self) -> list[OwnedSandbox]:
        owned = []
        for sandbox in self._client.list(ListSandboxesQuery(labels={LABEL_OWNER: self._owner})):
            labels = sandbox.labels or {}
            if labels.get(LABEL_OWNER) != self._owner:
                continue  # the filter is the server's; the decision to delete stays ours
            owned.append(
                OwnedSandbox(
                    id=sandbox.id,
                    session_id=labels.get(LABEL_SESSION, ""),
                    last_active=_parse_time(
                        sandbox.last_activity_at or sandbox.updated_at or sandbox.created_at
                    ),
                )
            )
        return owned

    async def delete(self, sandbox_id: str) -> bool:
        return await asyncio.to_thread(self._delete, sandbox_id)

    def _delete(self, sandbox_id: str) -> bool:
        try:
            sandbox = self._client.get(sandbox_id)
        except DaytonaNotFoundError:
            return False
        if (sandbox.labels or {}).get(LABEL_OWNER) != self._owner:
            raise InvalidInputError(
                f"sandbox_id {sandbox_id!r} is not owned by this runner "
                f"(label {LABEL_OWNER}={self._owner!r} missing); not deleting it"
            )
        self._client.delete(sandbox, wait=True)
        logger.info("Daytona sandbox %s deleted", sandbox_id)
        return True


def _warn_on_changed_env(sandbox: DaytonaSdkSandbox, request: SandboxRequest) -> None:
    # Daytona fixes a sandbox's environment at creation; say so instead of silently running
    # with old values. Names only: the values may be secrets.
    created_with = sandbox.env or {}
    changed = sorted(
        name
        for name in set(created_with) | set(request.env)
        if created_with.get(name) != request.env.get(name)
    )
    if changed:
        logger.warning(
            "sandbox %s keeps the environment it was created with; changed since: %s",
            sandbox.id,
            ", ".join(changed),
        )


def _state(sandbox: DaytonaSdkSandbox) -> str:
    state = sandbox.state
    return str(getattr(state, "value", state) or "unknown")


def _parse_time(raw: str | None) -> datetime:
    if not raw:
        return datetime.now(UTC)
    return datetime.fromisoformat(raw.replace("Z", "+00:00"))
