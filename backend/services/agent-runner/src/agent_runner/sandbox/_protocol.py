"""The seam between a turn and where its commands run.

A provider hands out one sandbox per session: a local workspace or a Daytona sandbox. The
sandbox exposes a deepagents backend (file tools and `execute`), so the agent code does not
care which provider made it. Providers also list and delete the sandboxes they own, which is
what the reaper and the CleanupSandbox activity build on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, runtime_checkable

from deepagents.backends.protocol import SandboxBackendProtocol

from agent_runner.environment import Redactor
from agent_runner.errors import InvalidInputError
from ai.stigmer.agentic.agent.v1.spec_pb2 import SandboxSpec

# Labels on every sandbox the runner creates. The owner label is what the reaper lists by:
# a sandbox without it (or with another owner) is never deleted.
LABEL_OWNER = "stigmer.owner"
LABEL_SESSION = "stigmer.session"
LABEL_ORG = "stigmer.org"


@dataclass(frozen=True)
class Sandbox:
    """The session's sandbox; an id other than the one asked for means a new one was made."""

    id: str
    backend: SandboxBackendProtocol


@dataclass(frozen=True)
class SandboxRequest:
    """What a turn asks for: the session's sandbox, made from the agent's spec."""

    session_id: str
    sandbox_id: str
    env: Mapping[str, str]
    redact: Redactor
    org: str = ""
    spec: SandboxSpec = field(default_factory=SandboxSpec)


@dataclass(frozen=True)
class SandboxProcess:
    """How to start a long-lived process inside a sandbox: what to spawn on the host (the
    sandbox's isolation prefix included), its whole environment and its working directory."""

    command: str
    args: list[str]
    env: dict[str, str]
    cwd: str


@runtime_checkable
class ProcessSandbox(Protocol):
    """A sandbox backend that can host a long-lived process talking over stdin/stdout."""

    def process(self, argv: Sequence[str], *, env: Mapping[str, str]) -> SandboxProcess: ...


@dataclass(frozen=True)
class OwnedSandbox:
    id: str
    session_id: str
    last_active: datetime


class SandboxProvider(Protocol):
    kind: str

    async def acquire(self, request: SandboxRequest) -> Sandbox:
        """Reuse the request's sandbox when it is healthy, otherwise create one for the session."""
        ...

    async def list_owned(self) -> list[OwnedSandbox]:
        """Every sandbox this runner's owner label marks as ours."""
        ...

    async def delete(self, sandbox_id: str) -> bool:
        """Delete one of our sandboxes; False when it was already gone."""
        ...


def check_spec(spec: SandboxSpec, provider: SandboxProvider) -> None:
    """An agent asking for another sandbox type than this runner serves is a config error."""
    if spec.type and spec.type != provider.kind:
        raise InvalidInputError(
            f"agent spec.sandbox.type is {spec.type!r} but this runner serves "
            f"SANDBOX_TYPE={provider.kind!r}; expected {provider.kind!r} or empty"
        )
    if spec.image and spec.snapshot:
        raise InvalidInputError(
            "agent spec.sandbox sets both image and snapshot; expected at most one of them"
        )
