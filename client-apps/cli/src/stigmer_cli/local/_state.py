"""What the supervisor records about the processes it runs (local-state.json)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from enum import StrEnum
from pathlib import Path

from stigmer_cli.local._layout import write_private
from stigmer_cli.local._procs import ProcessRecord


class Phase(StrEnum):
    STARTING = "starting"
    RUNNING = "running"
    RESTARTING = "restarting"
    FAILED = "failed"
    STOPPED = "stopped"


@dataclass(frozen=True)
class ComponentState:
    name: str
    address: str
    phase: Phase
    pid: int | None = None
    start_time: str | None = None
    restarts: int = 0
    last_exit_code: int | None = None
    message: str = ""

    @property
    def process(self) -> ProcessRecord | None:
        if self.pid is None or self.start_time is None:
            return None
        return ProcessRecord(self.pid, self.start_time)


@dataclass(frozen=True)
class LocalState:
    supervisor_pid: int
    supervisor_start_time: str
    components: dict[str, ComponentState] = field(default_factory=dict)

    @property
    def supervisor(self) -> ProcessRecord:
        return ProcessRecord(self.supervisor_pid, self.supervisor_start_time)

    def with_component(self, component: ComponentState) -> LocalState:
        return replace(self, components={**self.components, component.name: component})

    def processes(self) -> list[ProcessRecord]:
        """Every process this local system started, components first."""
        found = [c.process for c in self.components.values()]
        return [p for p in found if p is not None] + [self.supervisor]


def write_state(path: Path, state: LocalState) -> None:
    write_private(path, json.dumps(asdict(state), indent=2))


def read_state(path: Path) -> LocalState | None:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    components = {
        name: ComponentState(**{**value, "phase": Phase(value["phase"])})
        for name, value in raw.get("components", {}).items()
    }
    return LocalState(
        supervisor_pid=int(raw["supervisor_pid"]),
        supervisor_start_time=str(raw["supervisor_start_time"]),
        components=components,
    )
