"""Starting, probing and stopping a local system: the logic behind `stigmer local ...`."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from stigmer_cli._errors import CliError
from stigmer_cli.local._apikey import ensure_api_key, ensure_secrets_key, read_api_key
from stigmer_cli.local._components import (
    COMPONENTS,
    RUNNER,
    SERVER,
    SUPERVISOR_STOP_SECONDS,
    TEMPORAL,
    TEMPORAL_NAMESPACE,
    find_service,
    find_temporal,
    repo_root,
)
from stigmer_cli.local._layout import LOOPBACK, Layout, LocalSettings
from stigmer_cli.local._ports import free_port, require_free
from stigmer_cli.local._procs import ProcessRecord, terminate
from stigmer_cli.local._readiness import runner_problem, server_problem, temporal_problem
from stigmer_cli.local._state import LocalState, Phase, read_state

_LEFTOVER_GRACE_SECONDS = 5.0


@dataclass(frozen=True)
class Ports:
    temporal: int
    temporal_ui: int
    server: int


@dataclass(frozen=True)
class Health:
    """One component as `status` and `up` show it."""

    name: str
    phase: str
    pid: int | None
    address: str
    problem: str | None
    restarts: int
    message: str

    @property
    def ready(self) -> bool:
        return self.problem is None and self.phase == Phase.RUNNING


def running_state(layout: Layout) -> LocalState | None:
    """The recorded state when its supervisor still runs; None when nothing runs."""
    state = read_state(layout.state_file)
    if state is None or not state.supervisor.alive():
        return None
    return state


def read_settings(layout: Layout) -> LocalSettings | None:
    try:
        return LocalSettings.from_json(layout.settings_file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None


def prepare(layout: Layout, ports: Ports) -> LocalSettings:
    """Check tools and ports, write the settings and the API key; start nothing yet."""
    settings = LocalSettings(
        home=str(layout.home),
        temporal_bin=find_temporal(repo_root()),
        temporal_port=ports.temporal,
        temporal_ui_port=ports.temporal_ui,
        server_port=ports.server,
        server_command=find_service("stigmer-server", "stigmer_server"),
        runner_command=find_service("agent-runner", "agent_runner"),
        server_metrics_port=free_port(LOOPBACK),
        runner_metrics_port=free_port(LOOPBACK),
        http_port=free_port(LOOPBACK),
    )
    require_free(
        LOOPBACK,
        {
            "Temporal frontend": (ports.temporal, "--temporal-port"),
            "Temporal UI": (ports.temporal_ui, "--temporal-ui-port"),
            "stigmer-server": (ports.server, "--server-port"),
        },
    )
    layout.home.mkdir(parents=True, exist_ok=True, mode=0o700)
    layout.logs_dir.mkdir(exist_ok=True)
    ensure_api_key(layout.api_key_file)
    ensure_api_key(layout.runner_key_file)
    ensure_secrets_key(layout.secrets_key_file)
    layout.settings_file.write_text(settings.to_json(), encoding="utf-8")
    return settings


def spawn_supervisor(layout: Layout) -> ProcessRecord:
    """Start the supervisor detached: its own session, stdin from /dev/null, output to its log.

    posix_spawn rather than Popen: the CLI exits while the supervisor lives on, and a dropped
    Popen of a running child is reported as a leak.
    """
    log = str(layout.log_file("supervisor"))
    pid = os.posix_spawn(
        sys.executable,
        [sys.executable, "-m", "stigmer_cli.local.supervisor", str(layout.home)],
        dict(os.environ),
        file_actions=[
            (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
            (os.POSIX_SPAWN_OPEN, 1, log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600),
            (os.POSIX_SPAWN_DUP2, 1, 2),
        ],
        setsid=True,
    )
    record = ProcessRecord.of(pid)
    if record is None:
        raise CliError(f"the supervisor exited at once; see {log}")
    return record


def probe(layout: Layout, settings: LocalSettings, state: LocalState | None) -> list[Health]:
    """Each component's recorded phase plus a live health probe."""
    api_key = read_api_key(layout.api_key_file)
    problems = asyncio.run(_probe_all(settings, api_key))
    rows = []
    for name in COMPONENTS:
        component = state.components.get(name) if state else None
        process = component.process if component else None
        alive = process is not None and process.alive()
        phase = component.phase if component else Phase.STARTING
        if not alive and phase not in (Phase.FAILED, Phase.STARTING, Phase.RESTARTING):
            phase = Phase.STOPPED
        rows.append(
            Health(
                name=name,
                phase=phase.value,
                pid=process.pid if process and alive else None,
                address=_address(name, settings),
                problem=problems[name],
                restarts=component.restarts if component else 0,
                message=component.message if component else "",
            )
        )
    return rows


def _address(name: str, settings: LocalSettings) -> str:
    if name == TEMPORAL:
        return f"{settings.temporal_address}, UI :{settings.temporal_ui_port}"
    if name == SERVER:
        http = f", HTTP :{settings.http_port}" if settings.http_port else ""
        return settings.server_address + http
    return "task queue 'execution'"


async def _probe_all(settings: LocalSettings, api_key: str) -> dict[str, str | None]:
    temporal, server, runner = await asyncio.gather(
        temporal_problem(settings.temporal_address, TEMPORAL_NAMESPACE),
        server_problem(settings.server_address, api_key),
        runner_problem(settings.temporal_address, TEMPORAL_NAMESPACE),
    )
    return {TEMPORAL: temporal, SERVER: server, RUNNER: runner}


def wait_ready(
    layout: Layout,
    settings: LocalSettings,
    supervisor: ProcessRecord,
    timeout: float,
    on_progress: Callable[[list[Health]], None],
) -> list[Health]:
    """Probe until every component is ready; fail at once when one is recorded as failed."""
    deadline = time.monotonic() + timeout
    while True:
        state = read_state(layout.state_file)
        rows = probe(layout, settings, state)
        on_progress(rows)
        if all(row.ready for row in rows):
            return rows
        failed = [row for row in rows if row.phase == Phase.FAILED]
        if failed:
            raise _failure(layout, failed[0].name, failed[0].message)
        if not supervisor.alive():
            raise _failure(layout, "supervisor", "the supervisor exited")
        if time.monotonic() > deadline:
            waiting = next(row for row in rows if not row.ready)
            reason = waiting.problem or waiting.phase
            raise _failure(layout, waiting.name, f"not ready after {timeout:.0f}s: {reason}")
        time.sleep(0.5)


def _failure(layout: Layout, name: str, message: str) -> CliError:
    log = layout.log_file(name)
    return CliError(
        f"{name} {message}\n--- last lines of {log} ---\n{tail(log, 15)}",
        fix=f"read {log} (`stigmer local logs {name}`); the local system was stopped",
    )


def stop(layout: Layout) -> list[int]:
    """Stop exactly the processes recorded in the state file; return the pids stopped."""
    state = read_state(layout.state_file)
    if state is None:
        return []
    stopped = [p.pid for p in state.processes() if p.alive()]
    terminate(state.supervisor, grace=SUPERVISOR_STOP_SECONDS, group=False)
    _reap(state.supervisor.pid)
    # The supervisor stops its components; these are only left when it was killed itself.
    for component in state.components.values():
        process = component.process
        if process is not None and process.alive():
            terminate(process, grace=_LEFTOVER_GRACE_SECONDS, group=True)
    leftovers = [p.pid for p in state.processes() if p.alive()]
    if leftovers:
        raise CliError(f"processes {leftovers} did not stop", fix="kill them by pid")
    layout.state_file.unlink(missing_ok=True)
    return stopped


def _reap(pid: int) -> None:
    """Collect the supervisor's exit status when this process started it (`up` that failed)."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def tail(path: Path, lines: int) -> str:
    if lines <= 0:
        return ""  # `[-0:]` would be the whole log
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return "(no log yet)"
    return "\n".join(text.splitlines()[-lines:])
