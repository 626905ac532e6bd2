"""Where a turn's commands run: a provider protocol and the `local` workspace sandbox."""

from agent_runner.config import LocalSandboxSettings
from agent_runner.errors import SandboxStartError
from agent_runner.sandbox._local import LocalSandboxProvider, probe_bwrap
from agent_runner.sandbox._protocol import Sandbox, SandboxProvider
from agent_runner.sandbox._shell import SandboxShellBackend

__all__ = [
    "LocalSandboxProvider",
    "LocalSandboxSettings",
    "Sandbox",
    "SandboxProvider",
    "SandboxShellBackend",
    "SandboxStartError",
    "probe_bwrap",
]
