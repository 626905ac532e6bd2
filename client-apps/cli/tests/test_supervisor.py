"""The supervisor with real processes: a real Temporal dev server and components that crash."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stigmer_cli._errors import CliError
from stigmer_cli.local._apikey import ensure_api_key
from stigmer_cli.local._components import find_temporal, repo_root
from stigmer_cli.local._control import spawn_supervisor, stop, wait_ready
from stigmer_cli.local._layout import Layout, LocalSettings
from stigmer_cli.local._procs import ProcessRecord
from stigmer_testing import eventually, free_ports

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

CRASH = ("/bin/sh", "-c", "echo boom from $0 >&2; exit 3")


def test_crashing_components_are_restarted_three_times_then_reported(tmp_path: Path) -> None:
    layout = Layout(tmp_path)
    layout.logs_dir.mkdir()
    temporal_port, ui_port, server_port = free_ports(3)
    settings = LocalSettings(
        home=str(tmp_path),
        temporal_bin=find_temporal(repo_root()),
        temporal_port=temporal_port,
        temporal_ui_port=ui_port,
        server_port=server_port,
        server_command=CRASH,
        runner_command=CRASH,
    )
    layout.settings_file.write_text(settings.to_json(), encoding="utf-8")
    ensure_api_key(layout.api_key_file)
    supervisor = spawn_supervisor(layout)
    try:
        with pytest.raises(CliError) as caught:
            wait_ready(layout, settings, supervisor, timeout=120, on_progress=lambda rows: None)
        state = json.loads(layout.state_file.read_text(encoding="utf-8"))
        pids = [c["pid"] for c in state["components"].values()]
    finally:
        stopped = stop(layout)

    message = caught.value.message
    assert message.startswith("stigmer-server exited with code 3 after 3 restarts")
    assert "boom from /bin/sh" in message  # the tail of the component's log
    server = state["components"]["stigmer-server"]
    assert (server["phase"], server["restarts"], server["last_exit_code"]) == ("failed", 3, 3)
    assert state["components"]["temporal"]["phase"] == "running"
    log = layout.log_file("supervisor").read_text(encoding="utf-8")
    assert log.count("started stigmer-server") == 4
    assert supervisor.pid in stopped
    assert not any(ProcessRecord.of(pid) for pid in [supervisor.pid, *pids] if pid)
    assert not layout.state_file.exists()


def _component(name: str, record: Path, *, drain: float) -> tuple[str, ...]:
    """A component that notes when SIGTERM came and when it finished draining."""
    script = (
        f'trap \'echo "$(date +%s.%N) {name} asked" >> {record}; sleep {drain}; '
        f'echo "$(date +%s.%N) {name} drained" >> {record}; exit 0\' TERM; '
        "while :; do sleep 0.1; done"
    )
    return ("/bin/sh", "-c", script)


@pytest.mark.timeout(240)
def test_down_stops_the_runner_first_and_lets_it_drain_past_ten_seconds(tmp_path: Path) -> None:
    layout = Layout(tmp_path)
    layout.logs_dir.mkdir()
    record = tmp_path / "stops.log"
    temporal_port, ui_port, server_port = free_ports(3)
    settings = LocalSettings(
        home=str(tmp_path),
        temporal_bin=find_temporal(repo_root()),
        temporal_port=temporal_port,
        temporal_ui_port=ui_port,
        server_port=server_port,
        server_command=_component("server", record, drain=1),
        # Longer than the 10 s the supervisor used to give every component.
        runner_command=_component("runner", record, drain=12),
    )
    layout.settings_file.write_text(settings.to_json(), encoding="utf-8")
    ensure_api_key(layout.api_key_file)
    supervisor = spawn_supervisor(layout)
    try:

        def both_running() -> bool:
            state = json.loads(layout.state_file.read_text(encoding="utf-8"))
            phases = {c["name"]: c["phase"] for c in state["components"].values()}
            return bool(phases["stigmer-server"] == phases["agent-runner"] == "running")

        eventually(both_running, timeout=120, message="the server and the runner to run")
    finally:
        stop(layout)
    events = [line.split(" ", 1)[1] for line in record.read_text().splitlines()]
    # The runner drained in full (no SIGKILL), and only then was the server asked to stop.
    assert events == ["runner asked", "runner drained", "server asked", "server drained"]
    assert not ProcessRecord.of(supervisor.pid)
    assert not layout.state_file.exists()
