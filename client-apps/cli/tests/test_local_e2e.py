"""End to end: the real `stigmer` program, a real local system (Temporal dev server,
stigmer-server, agent-runner) from a fresh STIGMER_HOME, the examples and the scripted model.
"""

from __future__ import annotations

import json
import os
import re
import select
import shutil
import signal
import socket
import stat
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from local_world import (
    EXAMPLES,
    SLOW_MANIFEST,
    SLOW_SCRIPT,
    Result,
    alive,
    port_flags,
    recorded_pids,
    running,
    stigmer,
)

from stigmer_testing import eventually, free_ports

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]


def test_local_up_is_ready_and_a_second_up_is_harmless(home: Path) -> None:
    status = stigmer(home, "local", "status")
    assert status.code == 0, status.out + status.err
    for component in ("temporal", "stigmer-server", "agent-runner"):
        line = next(row for row in status.out.splitlines() if row.startswith(component))
        assert "running" in line
        assert "ready" in line
    server_line = next(row for row in status.out.splitlines() if row.startswith("stigmer-server"))
    assert re.search(r", HTTP :\d+", server_line), server_line
    before = recorded_pids(home)
    again = stigmer(home, "local", "up")
    assert again.code == 0, again.out + again.err
    assert "already runs" in again.out
    # Each `up` (and `local console`) prints a fresh one-time sign-in link to the console.
    assert re.search(r"Console: http://127\.0\.0\.1:\d+/#ticket=\S+", again.out), again.out
    assert recorded_pids(home) == before


def test_api_key_is_generated_once_and_private(home: Path) -> None:
    key_file = home / "api-key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert key_file.read_text(encoding="utf-8").strip().startswith("stk_local_")


def test_the_runner_has_a_key_of_its_own(home: Path) -> None:
    runner_key = (home / "runner-api-key").read_text(encoding="utf-8").strip()
    assert stat.S_IMODE((home / "runner-api-key").stat().st_mode) == 0o600
    assert runner_key != (home / "api-key").read_text(encoding="utf-8").strip()
    # A runner key may not do what a user does (the turns below show it does what a runner does).
    as_runner = stigmer(home, "get", "agents", extra_env={"STIGMER_API_KEY": runner_key})
    assert as_runner.code == 1
    assert "PERMISSION_DENIED" in as_runner.err


def test_keys_are_created_once_listed_used_by_role_and_revoked(home: Path, applied: Result) -> None:
    created = stigmer(
        home, "keys", "create", "--name", "dashboard", "--role", "viewer", "-o", "json"
    )
    assert created.code == 0, created.out + created.err
    key = json.loads(created.out)
    assert key["key"].startswith(f"stk_{key['id']}_")
    viewer = {"STIGMER_API_KEY": key["key"]}

    listed = stigmer(home, "keys", "list")
    assert listed.code == 0, listed.err
    assert key["id"] in listed.out
    assert "viewer" in listed.out
    assert key["key"] not in listed.out

    reads = stigmer(home, "get", "agents", extra_env=viewer)
    assert reads.code == 0, reads.err
    assert "demo-agent" in reads.out
    delete = stigmer(home, "delete", "agent", "demo-agent", extra_env=viewer)
    assert delete.code == 1
    assert "PERMISSION_DENIED" in delete.err
    own_keys = stigmer(home, "keys", "list", extra_env=viewer)
    assert own_keys.code == 1
    assert "PERMISSION_DENIED" in own_keys.err

    revoked = stigmer(home, "keys", "revoke", key["id"])
    assert revoked.code == 0, revoked.err
    after = stigmer(home, "get", "agents", extra_env=viewer)
    assert after.code == 1
    assert "rejected the API key" in after.err


def test_apply_creates_then_reports_unchanged(home: Path, applied: Result) -> None:
    created = [line.split()[:2] for line in applied.out.splitlines()]
    assert created == [
        ["skill/hello-world", "created"],
        ["skill/workspace-notes", "created"],
        ["environment/demo-defaults", "created"],
        ["environment/demo-overrides", "created"],
        ["agent/demo-agent", "created"],
        ["agentinstance/demo", "created"],
    ]
    again = stigmer(home, "apply", "-f", str(EXAMPLES))
    assert again.code == 0, again.err
    assert [line.split()[1] for line in again.out.splitlines()] == ["unchanged"] * 6


def test_apply_updates_only_what_changed(home: Path, applied: Result, tmp_path: Path) -> None:
    changed = tmp_path / "examples"
    shutil.copytree(EXAMPLES, changed, ignore=shutil.ignore_patterns("providers"))
    agent_file = changed / "agent.yaml"
    agent_file.write_text(
        agent_file.read_text(encoding="utf-8").replace(
            "description: Plans with", "description: Now plans with"
        ),
        encoding="utf-8",
    )
    try:
        result = stigmer(home, "apply", "-f", str(changed))
        assert result.code == 0, result.err
        actions = dict(line.split()[:2] for line in result.out.splitlines())
        assert actions.pop("agent/demo-agent") == "updated"
        assert set(actions.values()) == {"unchanged"}
        agent = json.loads(stigmer(home, "get", "agent", "demo-agent", "-o", "json").out)
        assert agent["spec"]["description"].startswith("Now plans with")
        assert agent["metadata"]["version"] == "2"
    finally:
        restored = stigmer(home, "apply", "-f", str(EXAMPLES))
        assert "agent/demo-agent updated" in restored.out


def test_get_lists_what_was_applied_and_masks_secrets(home: Path, applied: Result) -> None:
    agents = stigmer(home, "get", "agents")
    assert agents.code == 0, agents.err
    assert "demo-agent" in agents.out
    instance = json.loads(stigmer(home, "get", "instance", "demo", "-o", "json").out)
    agent = json.loads(stigmer(home, "get", "agent", "demo-agent", "-o", "json").out)
    assert instance["spec"]["agentId"] == agent["metadata"]["id"]
    assert [r["slug"] for r in instance["spec"]["environmentRefs"]] == [
        "demo-defaults",
        "demo-overrides",
    ]
    env_yaml = stigmer(home, "get", "environments", "demo-overrides", "-o", "yaml").out
    assert "demo-token-not-a-real-secret" not in env_yaml
    assert "'********'" in env_yaml


def test_an_agent_calls_the_example_mcp_servers_tools_offline(home: Path) -> None:
    applied = stigmer(home, "apply", "-f", str(EXAMPLES / "mcp"))
    assert applied.code == 0, applied.out + applied.err
    listed = stigmer(home, "get", "mcpservers")
    assert listed.code == 0, listed.err
    assert "notes-mcp" in listed.out
    assert "stdio: python3" in listed.out
    run = stigmer(home, "run", "mcp-demo", "Keep a note.", "-o", "json")
    assert run.code == 0, run.out + run.err
    status = json.loads(run.out)["status"]
    assert status["phase"] == "EXECUTION_COMPLETED"
    calls = {call["name"]: call for call in status["toolCalls"]}
    assert calls["mcp_notes-mcp_add_note"]["result"] == "noted for hello"
    assert calls["mcp_notes-mcp_read_notes"]["result"] == "the MCP server was here\n"
    assert calls["mcp_notes-mcp_add_note"]["component"] == {
        "type": "mcp",
        "context": {"server": "notes-mcp", "tool": "add_note"},
    }
    assert status["messages"][-1]["content"].startswith("The notes MCP server kept the note")


def test_secret_values_are_sealed_in_the_servers_database(home: Path, applied: Result) -> None:
    assert stat.S_IMODE((home / "secrets.keys").stat().st_mode) == 0o600
    stored = b"".join(path.read_bytes() for path in home.glob("stigmer.db*"))
    assert b"sealed:v1:local-1:" in stored
    assert b"demo-token-not-a-real-secret" not in stored


def test_wrong_kind_manifest_fails_naming_file_and_field(home: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "apiVersion: agentic.stigmer.ai/v1\nkind: Agnet\nmetadata: {name: x}\nspec: {}\n",
        encoding="utf-8",
    )
    result = stigmer(home, "apply", "-f", str(bad))
    assert result.code == 1
    assert f"{bad}: document 1: kind: expected one of" in result.err
    assert "nothing was applied" in result.err


def test_run_shows_the_turn_and_a_second_turn_continues_the_session(
    home: Path, applied: Result, tmp_path: Path
) -> None:
    session_file = tmp_path / "session"
    first = stigmer(
        home, "run", "demo", "Look around please.", "--write-session-id", str(session_file)
    )
    assert first.code == 0, first.out + first.err
    for shown in (
        "✓ execute echo 'turn one was here' >> notes.txt && ls",  # a tool call, completed
        "[x] Ask the researcher about the system",  # the todo checklist
        "✓ sub-agent researcher: Find out which operating system",  # the sub-agent...
        "    ✓ execute uname -s",  # ...with its own tool call nested under it
        "This is the scripted demo model.",  # the answer
        "completed",
    ):
        assert shown in first.out, first.out
    session = session_file.read_text(encoding="utf-8").strip()
    assert f"--session {session}" in first.out
    assert f"session   {session}" in first.out

    second = stigmer(home, "run", "demo", "What did you leave?", "--session", session, "-o", "json")
    assert second.code == 0, second.out + second.err
    execution = json.loads(second.out)
    assert execution["status"]["phase"] == "EXECUTION_COMPLETED"
    assert execution["spec"]["sessionId"] == session
    answer = execution["status"]["messages"][-1]["content"]
    assert "turn one was here" in answer  # the script's expectation held: turn 1 is remembered

    listed = stigmer(home, "executions", "--session", session)
    assert listed.out.count("COMPLETED") == 2


def _slow_instance(home: Path, tmp_path: Path) -> None:
    script = tmp_path / "slow-script.yaml"
    script.write_text(SLOW_SCRIPT, encoding="utf-8")
    manifest = tmp_path / "slow.yaml"
    manifest.write_text(SLOW_MANIFEST % script, encoding="utf-8")
    result = stigmer(home, "apply", "-f", str(manifest))
    assert result.code == 0, result.err


def _running_execution(home: Path, timeout: float = 60.0) -> str:
    def running_one() -> str | None:
        listed = json.loads(stigmer(home, "executions", "-o", "json").out or "[]")
        items = listed if isinstance(listed, list) else [listed]
        for e in items:
            calls = e["status"].get("toolCalls", [])
            if e["status"].get("phase") == "EXECUTION_IN_PROGRESS" and any(
                t.get("status") == "TOOL_CALL_RUNNING" for t in calls
            ):
                return str(e["metadata"]["id"])
        return None

    return eventually(
        running_one, timeout=timeout, interval=0.5, message="an execution with a running tool call"
    )


def _first_line(process: subprocess.Popen[str], timeout: float) -> str:
    """The first line `process` prints, waited for with a deadline (a bare readline could
    block the test forever)."""
    stdout = process.stdout
    assert stdout is not None
    eventually(
        lambda: select.select([stdout], [], [], 0)[0],
        timeout=timeout,
        message=f"`{process.args!r}` to print its first line",
    )
    return stdout.readline()


@pytest.mark.parametrize("output", ["json", "text"])
def test_ctrl_c_cancels_a_running_turn(
    home: Path, applied: Result, tmp_path: Path, output: str
) -> None:
    _slow_instance(home, tmp_path)
    with running(home, "run", "slow", "Take your time.", "-o", output) as run:
        execution_id = _running_execution(home)
        run.send_signal(signal.SIGINT)
        out, err = run.communicate(timeout=60)
    assert run.returncode == 130, out + err
    assert "cancelling the execution" in err
    if output == "json":
        final = json.loads(out)
        assert final["status"]["phase"] == "EXECUTION_CANCELLED"
    else:
        assert "cancelled" in out
        final = json.loads(stigmer(home, "get", "executions", execution_id, "-o", "json").out)
        assert final["status"]["phase"] == "EXECUTION_CANCELLED"
    assert final["metadata"]["id"] == execution_id


def test_cancel_command_ends_a_watched_turn_cancelled(
    home: Path, applied: Result, tmp_path: Path
) -> None:
    _slow_instance(home, tmp_path)
    with running(home, "run", "slow", "Take your time.") as run:
        execution_id = _running_execution(home)
        cancelled = stigmer(home, "cancel", execution_id)
        assert cancelled.code == 0, cancelled.err
        out, err = run.communicate(timeout=60)
    assert run.returncode == 130, out + err
    assert "cancelled" in out
    shown = json.loads(stigmer(home, "get", "executions", execution_id, "-o", "json").out)
    assert shown["status"]["phase"] == "EXECUTION_CANCELLED"


ENV_SCRIPT = """\
replies:
  - tool_calls:
      - name: execute
        args:
          command: echo "g=$GREETING r=$DEMO_REGION t=$DEMO_API_TOKEN x=$EXTRA s=$ONE_OFF"
  - text: "printed"
"""
ENV_MANIFEST = """\
apiVersion: agentic.stigmer.ai/v1
kind: Agent
metadata: {name: Env printer}
spec:
  model: scripted:%s
  instructions: Print the environment.
  envSpec: {data: {DEMO_REGION: agent}}
---
apiVersion: agentic.stigmer.ai/v1
kind: AgentInstance
metadata: {name: Env}
spec: {agent: env-printer, environmentRefs: [demo-defaults, demo-overrides]}
"""


def test_environment_layers_and_turn_env_reach_the_sandbox_with_secrets_redacted(
    home: Path, applied: Result, tmp_path: Path
) -> None:
    script = tmp_path / "env-script.yaml"
    script.write_text(ENV_SCRIPT, encoding="utf-8")
    manifest = tmp_path / "env.yaml"
    manifest.write_text(ENV_MANIFEST % script, encoding="utf-8")
    assert stigmer(home, "apply", "-f", str(manifest)).code == 0
    result = stigmer(
        home,
        "run",
        "env",
        "Print it",
        "--env",
        "EXTRA=plain",
        "--secret-env",
        "ONE_OFF",
        "-o",
        "json",
        extra_env={"ONE_OFF": "one-off-secret-value"},
    )
    assert result.code == 0, result.err
    [call] = json.loads(result.out)["status"]["toolCalls"]
    # Later layers win: agent < demo-defaults < demo-overrides < this turn's --env.
    assert "g=Hello from Stigmer r=local" in call["result"]
    assert "x=plain" in call["result"]
    assert "demo-token-not-a-real-secret" not in result.out
    assert "one-off-secret-value" not in result.out


def test_a_failing_turn_exits_1_and_shows_the_error(home: Path, applied: Result) -> None:
    manifest = (
        "apiVersion: agentic.stigmer.ai/v1\nkind: Agent\nmetadata: {name: Keyless}\n"
        "spec: {model: 'openai:gpt-4.1-mini', instructions: hi}\n---\n"
        "apiVersion: agentic.stigmer.ai/v1\nkind: AgentInstance\nmetadata: {name: Keyless}\n"
        "spec: {agent: keyless}\n"
    )
    path = home / "keyless.yaml"
    path.write_text(manifest, encoding="utf-8")
    assert stigmer(home, "apply", "-f", str(path)).code == 0
    result = stigmer(home, "run", "keyless", "Hello?")
    assert result.code == 1, result.out + result.err
    assert "failed" in result.out
    assert "OPENAI_API_KEY" in result.out  # the runner's error, shown to the user


def test_a_session_only_continues_with_its_own_target(
    home: Path, applied: Result, tmp_path: Path
) -> None:
    _slow_instance(home, tmp_path)
    session_file = tmp_path / "session"
    first = stigmer(
        home, "run", "demo", "Hi", "--write-session-id", str(session_file), "-o", "json"
    )
    assert first.code == 0, first.err
    session = session_file.read_text(encoding="utf-8").strip()
    wrong = stigmer(home, "run", "slow", "Hi again", "--session", session)
    assert wrong.code == 1
    assert f"session {session} belongs to agent instance" in wrong.err
    by_agent = stigmer(home, "run", "demo-agent", "Hi again", "--session", session, "-o", "json")
    assert by_agent.code == 0, by_agent.err
    assert json.loads(by_agent.out)["spec"]["sessionId"] == session


def test_delete_removes_a_resource_and_get_then_fails(home: Path, tmp_path: Path) -> None:
    path = tmp_path / "scratch.yaml"
    path.write_text(
        "apiVersion: agentic.stigmer.ai/v1\nkind: Skill\nmetadata: {name: Scratch}\n"
        "spec: {description: temporary}\n",
        encoding="utf-8",
    )
    refused = stigmer(home, "apply", "-f", str(path))
    assert refused.code == 1  # the server's own validation, located in the manifest
    assert f"{path}: document 1 (Skill scratch): create Skill: spec.markdown" in refused.err
    fixed = path.read_text(encoding="utf-8").replace("temporary}", "temporary, markdownContent: x}")
    path.write_text(fixed, encoding="utf-8")
    assert stigmer(home, "apply", "-f", str(path)).code == 0
    deleted = stigmer(home, "delete", "skill", "scratch")
    assert deleted.code == 0, deleted.err
    assert "skill/scratch deleted" in deleted.out
    missing = stigmer(home, "get", "skills", "scratch")
    assert missing.code == 1
    assert "no Skill with id or slug 'scratch'" in missing.err


def test_logs_show_the_supervisor_and_reject_unknown_components(home: Path) -> None:
    logs = stigmer(home, "local", "logs", "supervisor", "-n", "200")
    assert logs.code == 0
    assert "started temporal" in logs.out
    unknown = stigmer(home, "local", "logs", "postgres")
    assert unknown.code == 1
    assert "unknown component 'postgres'" in unknown.err


SHORT_SLEEP_SCRIPT = """\
replies:
  - tool_calls:
      - {name: execute, args: {command: "sleep 6"}}
  - text: "woke up"
"""


def test_a_watched_turn_survives_a_server_crash(home: Path, tmp_path: Path) -> None:
    script = tmp_path / "short-sleep.yaml"
    script.write_text(SHORT_SLEEP_SCRIPT, encoding="utf-8")
    manifest = tmp_path / "napper.yaml"
    manifest.write_text(
        SLOW_MANIFEST.replace("Slow", "Napper").replace("slow-agent", "napper-agent") % script,
        encoding="utf-8",
    )
    assert stigmer(home, "apply", "-f", str(manifest)).code == 0
    with running(home, "run", "napper", "Nap.") as run:
        _running_execution(home)
        server = json.loads((home / "local-state.json").read_text(encoding="utf-8"))
        os.kill(server["components"]["stigmer-server"]["pid"], signal.SIGKILL)
        out, err = run.communicate(timeout=120)
    assert run.returncode == 0, out + err
    assert "✓ execute sleep 6" in out
    assert "woke up" in out


def test_a_crashed_runner_is_restarted(home: Path) -> None:
    state_file = home / "local-state.json"
    runner = json.loads(state_file.read_text(encoding="utf-8"))["components"]["agent-runner"]
    with running(home, "local", "logs", "supervisor", "--follow", "--lines", "1") as follower:
        # Its first line printed, the follower takes the log's current end as its start.
        _first_line(follower, timeout=60)
        os.kill(runner["pid"], signal.SIGKILL)
        last = runner

        def restarted() -> dict[str, Any] | None:
            nonlocal last
            last = json.loads(state_file.read_text(encoding="utf-8"))["components"]["agent-runner"]
            done = last["restarts"] == runner["restarts"] + 1 and last["phase"] == "running"
            return last if done else None

        now = eventually(
            restarted, timeout=60, interval=0.3, message=lambda: f"the runner restarted: {last}"
        )
        assert now["pid"] != runner["pid"]
        assert now["last_exit_code"] == -signal.SIGKILL

        def all_ready() -> Result | None:
            result = stigmer(home, "local", "status")
            return result if result.code == 0 else None

        status = eventually(
            all_ready,
            timeout=60,
            interval=1,
            message="`stigmer local status` to report every component ready",
        )
        follower.send_signal(signal.SIGINT)
        followed, _ = follower.communicate(timeout=30)
        assert follower.returncode == 0
        assert "agent-runner exited with code -9" in followed
        assert f"started agent-runner (pid {now['pid']}, restarts 1)" in followed
    runner_row = next(r.rstrip() for r in status.out.splitlines() if r.startswith("agent-runner"))
    assert re.fullmatch(rf"agent-runner\s+running\s+{now['pid']}\s+.+\s+1\s+ready", runner_row)


def test_up_with_a_busy_port_fails_fast_naming_it(tmp_path: Path) -> None:
    ports = free_ports(3)
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", ports[2]))
        holder.listen()
        started = time.monotonic()
        result = stigmer(tmp_path, "local", "up", *port_flags(ports), timeout=60)
    assert result.code == 1
    assert time.monotonic() - started < 15
    assert f"port {ports[2]} (stigmer-server) already in use" in result.err
    assert "--server-port" in result.err
    assert not (tmp_path / "local-state.json").exists()


def test_without_a_local_system_commands_say_what_to_do(tmp_path: Path) -> None:
    status = stigmer(tmp_path, "local", "status")
    assert status.code == 3
    assert "not running" in status.out
    down = stigmer(tmp_path, "local", "down")
    assert (down.code, down.out.strip()) == (0, "The local system is not running.")
    console = stigmer(tmp_path, "local", "console")
    assert console.code == 1
    assert "the local system is not running" in console.err
    assert "stigmer local up" in console.err
    no_key = stigmer(tmp_path, "get", "agents")
    assert no_key.code == 1
    assert "no API key" in no_key.err
    assert "stigmer local up" in no_key.err
    [port] = free_ports(1)
    unreachable = stigmer(
        tmp_path, "--server", f"127.0.0.1:{port}", "--api-key", "k", "get", "agents"
    )
    assert unreachable.code == 1
    assert f"cannot reach the stigmer-server at 127.0.0.1:{port}" in unreachable.err


def test_up_without_the_temporal_cli_says_how_to_get_it(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-temporal"
    flags = port_flags(free_ports(3))
    try:
        result = stigmer(
            tmp_path, "local", "up", *flags, extra_env={"STIGMER_TEMPORAL_BIN": str(missing)}
        )
    finally:
        stigmer(tmp_path, "local", "down")  # only matters when the check let `up` through
    assert result.code == 1
    assert f"STIGMER_TEMPORAL_BIN={missing} is not an executable file" in result.err
    assert not (tmp_path / "local-state.json").exists()
    assert not (tmp_path / "api-key").exists()  # nothing written before the checks pass


def test_down_stops_the_components_of_a_killed_supervisor(tmp_path: Path) -> None:
    home = tmp_path / "home"
    try:
        up = stigmer(home, "local", "up", *port_flags(free_ports(3)), timeout=180)
        assert up.code == 0, up.out + up.err
        supervisor, *components = recorded_pids(home)
        os.kill(supervisor, signal.SIGKILL)
        eventually(
            lambda: not alive(supervisor), timeout=10, message="the killed supervisor to be gone"
        )
        status = stigmer(home, "local", "status")
        assert status.code == 3
        assert "The supervisor is gone but processes it started still run" in status.out
        assert all(alive(pid) for pid in components)
    finally:
        down = stigmer(home, "local", "down", timeout=60)
    assert down.code == 0, down.err
    assert [pid for pid in components if alive(pid)] == []
    assert not (home / "local-state.json").exists()
