"""The seam between a turn and where its commands run.

A provider hands out one sandbox per session: the local workspace now, Daytona later. The
sandbox exposes a deepagents backend (file tools and `execute`), so the agent code does not
care which provider made it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from deepagents.backends.protocol import SandboxBackendProtocol

from agent_runner.environment import Redactor


@dataclass(frozen=True)
class Sandbox:
    id: str
    backend: SandboxBackendProtocol
    # True when this turn created it, so the session must be told its new id.
    created: bool


class SandboxProvider(Protocol):
    kind: str

    async def acquire(
        self,
        *,
        session_id: str,
        sandbox_id: str,
        env: Mapping[str, str],
        redact: Redactor,
    ) -> Sandbox:
        """Reuse `sandbox_id` when it is healthy, otherwise create a sandbox for the session."""
        ...
