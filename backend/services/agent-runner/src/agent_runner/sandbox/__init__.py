"""Where a turn's commands run: a provider protocol and the `local` workspace sandbox."""

from agent_runner.sandbox._local import LocalSandboxProvider, LocalSandboxSettings, probe_bwrap
from agent_runner.sandbox._protocol import Sandbox, SandboxProvider, SandboxStartError
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
