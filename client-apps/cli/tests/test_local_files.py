"""Local mode's files and process identity, without starting anything."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

from stigmer_cli._errors import CliError
from stigmer_cli.local._apikey import ensure_api_key, read_api_key
from stigmer_cli.local._components import (
    RUNNER,
    SERVER,
    STOP_ORDER,
    SUPERVISOR_STOP_SECONDS,
    TEMPORAL,
    build_specs,
)
from stigmer_cli.local._layout import LocalSettings
from stigmer_cli.local._procs import ProcessRecord
from stigmer_cli.local._state import ComponentState, LocalState, Phase, read_state, write_state


def test_api_key_is_generated_once_with_mode_0600(tmp_path: Path) -> None:
    path = tmp_path / "home" / "api-key"
    first = ensure_api_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert first.startswith("stk_local_")
    assert len(first) > 40
    assert ensure_api_key(path) == first


def test_a_key_file_others_can_read_is_refused_with_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "api-key"
    ensure_api_key(path)
    path.chmod(0o644)
    with pytest.raises(CliError) as caught:
        read_api_key(path)
    assert "readable by other users (mode 0644)" in caught.value.message
    assert caught.value.fix == f"chmod 600 {path}"


def test_process_record_tells_our_process_from_a_reused_pid() -> None:
    child = subprocess.Popen(["sleep", "30"])
    try:
        record = ProcessRecord.of(child.pid)
        assert record is not None
        assert record.alive()
        assert not ProcessRecord(child.pid, "1").alive()  # same pid, another start time
    finally:
        child.kill()
        child.wait()
    assert not record.alive()
    assert ProcessRecord.of(child.pid) is None


def test_state_round_trips_and_lists_components_before_the_supervisor(tmp_path: Path) -> None:
    me = ProcessRecord.of(os.getpid())
    assert me is not None
    state = LocalState(me.pid, me.start_time).with_component(
        ComponentState(
            name="temporal",
            address="127.0.0.1:7233",
            phase=Phase.RESTARTING,
            pid=me.pid,
            start_time=me.start_time,
            restarts=2,
            last_exit_code=-9,
            message="exited with code -9; restarting",
        )
    )
    path = tmp_path / "local-state.json"
    write_state(path, state)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert read_state(path) == state
    assert state.processes() == [me, me]
    assert read_state(tmp_path / "missing.json") is None


def test_the_runner_sandbox_type_comes_from_the_shell_with_local_as_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = LocalSettings(
        home=str(tmp_path),
        temporal_bin="temporal",
        temporal_port=7233,
        temporal_ui_port=8233,
        server_port=50051,
        server_command=("stigmer-server",),
        runner_command=("agent-runner",),
    )
    monkeypatch.delenv("SANDBOX_TYPE", raising=False)
    monkeypatch.setenv("DAYTONA_API_KEY", "dtn-key")
    assert build_specs(settings, "k", runner_key="r")[RUNNER].env["SANDBOX_TYPE"] == "local"
    monkeypatch.setenv("SANDBOX_TYPE", "daytona")
    runner_env = build_specs(settings, "k", runner_key="r")[RUNNER].env
    assert runner_env["SANDBOX_TYPE"] == "daytona"
    assert runner_env["DAYTONA_API_KEY"] == "dtn-key"


def test_the_runner_gets_a_runner_key_and_never_the_admin_key(tmp_path: Path) -> None:
    settings = LocalSettings(
        home=str(tmp_path),
        temporal_bin="temporal",
        temporal_port=7233,
        temporal_ui_port=8233,
        server_port=50051,
        server_command=("stigmer-server",),
        runner_command=("agent-runner",),
    )
    specs = build_specs(settings, "admin-key", runner_key="runner-key")
    assert specs[RUNNER].env["STIGMER_API_KEY"] == "runner-key"
    assert "admin-key" not in specs[RUNNER].env.values()
    assert specs[SERVER].env["STIGMER_API_KEYS"] == "admin-key"
    assert specs[SERVER].env["STIGMER_RUNNER_KEYS"] == "runner-key"


def test_each_component_may_take_its_own_shutdown_before_it_is_killed(tmp_path: Path) -> None:
    settings = LocalSettings(
        home=str(tmp_path),
        temporal_bin="temporal",
        temporal_port=7233,
        temporal_ui_port=8233,
        server_port=50051,
        server_command=("stigmer-server",),
        runner_command=("agent-runner",),
    )
    specs = build_specs(settings, "k", runner_key="r")
    drain = float(specs[RUNNER].env["SHUTDOWN_GRACE_SECONDS"])
    # The runner drains its turns for `drain` seconds, then flushes the cancelled ones.
    assert specs[RUNNER].stop_grace > drain >= 30
    assert all(spec.stop_grace >= 10 for spec in specs.values())
    # One after another (STOP_ORDER): `local down` waits for all of them.
    assert sum(spec.stop_grace for spec in specs.values()) < SUPERVISOR_STOP_SECONDS
    assert STOP_ORDER == (RUNNER, SERVER, TEMPORAL)
