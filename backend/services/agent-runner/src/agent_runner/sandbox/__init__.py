"""Where a turn's commands run: a provider protocol, the `local` workspace and Daytona.

The Daytona provider is imported on demand (`agent_runner.sandbox.daytona_provider`), so a
local runner never loads the Daytona SDK.
"""

from agent_runner.config import LocalSandboxSettings
from agent_runner.errors import SandboxStartError
from agent_runner.sandbox._local import LocalSandboxProvider, probe_bwrap
from agent_runner.sandbox._protocol import (
    LABEL_ORG,
    LABEL_OWNER,
    LABEL_SESSION,
    OwnedSandbox,
    ProcessSandbox,
    Sandbox,
    SandboxProcess,
    SandboxProvider,
    SandboxRequest,
    check_spec,
)
from agent_runner.sandbox._shell import SandboxShellBackend

__all__ = [
    "LABEL_ORG",
    "LABEL_OWNER",
    "LABEL_SESSION",
    "LocalSandboxProvider",
    "LocalSandboxSettings",
    "OwnedSandbox",
    "ProcessSandbox",
    "Sandbox",
    "SandboxProcess",
    "SandboxProvider",
    "SandboxRequest",
    "SandboxShellBackend",
    "SandboxStartError",
    "check_spec",
    "probe_bwrap",
]
