"""End to end: approving tool calls with the real `stigmer` program on a real local system
(the approvals example: the demo agent with `execute` under approval, the scripted model):
--no-wait, pending, approve and reject; a run in a terminal that asks; a waiting turn that
outlives a runner and a server crash.
"""

from __future__ import annotations

import json
import os
import pty
import re
import select
import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest
from local_world import EXAMPLES, REPO, STIGMER, Result, cli_env, running, stigmer

from stigmer_testing import eventually

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]


def _execution(home: Path, execution_id: str) -> dict[str, Any]:
    shown: dict[str, Any] = json.loads(
        stigmer(home, "get", "executions", execution_id, "-o", "json").out
    )
    return shown


def _waits_on(home: Path, execution_id: str, call_id: str) -> bool:
    listed = stigmer(home, "pending")
    return listed.code == 0 and execution_id in listed.out and call_id in listed.out


def test_approval_no_wait_pending_approve_then_a_waiting_run_and_reject(
    home: Path, applied: Result
) -> None:
    result = stigmer(home, "apply", "-f", str(EXAMPLES / "approvals"))
    assert result.code == 0, result.out + result.err
    # --no-wait: the turn stops at the first `execute`, the run says how to decide and exits 3.
    stopped = stigmer(home, "run", "approval-demo", "Look around.", "--no-wait")
    assert stopped.code == 3, stopped.out + stopped.err
    found = re.search(r"execution (aex-\S+) waits for approval of:", stopped.err)
    assert found, stopped.err
    execution_id = found.group(1)
    assert f"stigmer approve {execution_id} main-call-1-0" in stopped.err
    assert _execution(home, execution_id)["status"]["phase"] == "EXECUTION_AWAITING_APPROVAL"
    listed = stigmer(home, "pending")
    assert "main-call-1-0" in listed.out, listed.out
    assert "execute echo 'turn one was here'" in listed.out, listed.out
    approved = stigmer(home, "approve", execution_id)
    assert approved.code == 0, approved.out + approved.err
    assert f"approved main-call-1-0 in execution {execution_id}" in approved.out
    # A decision twice is refused, naming the field.
    again = stigmer(home, "approve", execution_id, "main-call-1-0")
    assert again.code != 0
    assert "main-call-1-0" in again.err
    # The researcher's `execute` waits next: decided by reject, with a message.
    eventually(
        lambda: _waits_on(home, execution_id, "researcher-call-0-0"),
        timeout=120,
        interval=0.5,
        message="the researcher's call to wait for approval",
    )
    rejected = stigmer(
        home, "reject", execution_id, "researcher-call-0-0", "--message", "not today"
    )
    assert rejected.code == 0, rejected.out + rejected.err

    def ended() -> dict[str, Any] | None:
        shown = _execution(home, execution_id)
        return shown if shown["status"]["phase"] == "EXECUTION_COMPLETED" else None

    final = eventually(ended, timeout=120, interval=0.5, message="the turn to complete")
    main_call = next(c for c in final["status"]["toolCalls"] if c["id"] == "main-call-1-0")
    assert main_call["status"] == "TOOL_CALL_COMPLETED"
    assert main_call["approval"]["decision"] == "APPROVAL_DECISION_APPROVE"
    assert main_call["approval"]["decidedBy"]
    [sub] = final["status"]["subAgentExecutions"]
    sub_call = next(c for c in sub["toolCalls"] if c["id"] == "researcher-call-0-0")
    assert sub_call["status"] == "TOOL_CALL_REJECTED"
    assert "not today" in sub_call["result"]

    # Without a terminal `run` prints how to decide and keeps watching until someone does.
    session = final["spec"]["sessionId"]
    with running(home, "run", "approval-demo", "And now?", "--session", session) as run:
        eventually(
            lambda: _pending_count(home) > 0,
            timeout=120,
            interval=0.5,
            message="the second turn to wait for approval",
        )
        waiting = [e for e in _awaiting(home) if e["spec"]["sessionId"] == session]
        assert len(waiting) == 1
        assert stigmer(home, "approve", waiting[0]["metadata"]["id"]).code == 0
        out, err = run.communicate(timeout=120)
    assert run.returncode == 0, out + err
    assert "decide with:" in err
    assert "turn one was here" in out


def _awaiting(home: Path) -> list[dict[str, Any]]:
    listed = json.loads(stigmer(home, "executions", "-o", "json").out or "[]")
    items = listed if isinstance(listed, list) else [listed]
    return [e for e in items if e["status"].get("phase") == "EXECUTION_AWAITING_APPROVAL"]


def _pending_count(home: Path) -> int:
    return len(_awaiting(home))


def test_run_in_a_terminal_asks_approve_edit_or_reject(home: Path, applied: Result) -> None:
    result = stigmer(home, "apply", "-f", str(EXAMPLES / "approvals"))
    assert result.code == 0, result.out + result.err
    primary, secondary = pty.openpty()
    env = cli_env(home) | {
        "EDITOR": "sed -i s/turn.one.was.here/edited.in.the.editor/",
        "TERM": "xterm",
    }
    process = subprocess.Popen(
        [*STIGMER, "run", "approval-demo", "Look around."],
        env=env,
        stdin=secondary,
        stdout=secondary,
        stderr=secondary,
        cwd=REPO,
        close_fds=True,
    )
    os.close(secondary)
    seen = bytearray()

    def read_until(text: str) -> None:
        def found() -> bool:
            while select.select([primary], [], [], 0)[0]:
                try:
                    chunk = os.read(primary, 65536)
                except OSError:
                    break
                if not chunk:
                    break
                seen.extend(chunk)
            return text.encode() in seen

        eventually(
            found, timeout=120, interval=0.1, message=lambda: f"{text!r} in {bytes(seen[-2000:])!r}"
        )
        del seen[: seen.index(text.encode()) + len(text)]

    try:
        # The main agent's command: edit it (the EDITOR rewrites the args file).
        read_until("approve [a]/edit [e]/reject [r]?")
        os.write(primary, b"e\n")
        # The researcher's command: its rule allows approve or reject only.
        read_until("approve [a]/reject [r]?")
        os.write(primary, b"r\n")
        read_until("why (the agent reads this)")
        os.write(primary, b"read-only please\n")
        code = process.wait(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
        os.close(primary)
    assert code == 0, bytes(seen[-3000:])
    executions = json.loads(stigmer(home, "executions", "-o", "json").out)
    items = executions if isinstance(executions, list) else [executions]
    final = max(items, key=lambda e: e["metadata"]["id"])
    main_call = next(c for c in final["status"]["toolCalls"] if c["id"] == "main-call-1-0")
    assert main_call["approval"]["decision"] == "APPROVAL_DECISION_EDIT"
    assert "edited.in.the.editor" in main_call["approval"]["editedArgs"]["command"]
    [sub] = final["status"]["subAgentExecutions"]
    rejected = next(c for c in sub["toolCalls"] if c["id"] == "researcher-call-0-0")
    assert rejected["status"] == "TOOL_CALL_REJECTED"
    assert rejected["approval"]["message"] == "read-only please"


def test_a_waiting_turn_survives_runner_and_server_crashes_and_resumes_on_approve(
    home: Path, applied: Result
) -> None:
    assert stigmer(home, "apply", "-f", str(EXAMPLES / "approvals")).code == 0
    stopped = stigmer(home, "run", "approval-demo", "Survive.", "--no-wait")
    assert stopped.code == 3, stopped.out + stopped.err
    found = re.search(r"execution (aex-\S+) waits for approval of:", stopped.err)
    assert found, stopped.err
    execution_id = found.group(1)
    state_file = home / "local-state.json"
    before = json.loads(state_file.read_text(encoding="utf-8"))["components"]
    for name in ("agent-runner", "stigmer-server"):
        os.kill(before[name]["pid"], signal.SIGKILL)

    def restarted() -> bool:
        now = json.loads(state_file.read_text(encoding="utf-8"))["components"]
        moved = all(now[n]["pid"] != before[n]["pid"] for n in ("agent-runner", "stigmer-server"))
        return moved and stigmer(home, "local", "status").code == 0

    eventually(restarted, timeout=120, interval=1, message="the runner and server restarted")
    assert _waits_on(home, execution_id, "main-call-1-0")
    assert stigmer(home, "approve", execution_id).code == 0
    eventually(
        lambda: _waits_on(home, execution_id, "researcher-call-0-0"),
        timeout=120,
        interval=0.5,
        message="the researcher's call to wait after the resume",
    )
    assert stigmer(home, "approve", execution_id).code == 0

    def completed() -> dict[str, Any] | None:
        shown = _execution(home, execution_id)
        return shown if shown["status"]["phase"] == "EXECUTION_COMPLETED" else None

    final = eventually(completed, timeout=120, interval=0.5, message="the turn to complete")
    main_call = next(c for c in final["status"]["toolCalls"] if c["id"] == "main-call-1-0")
    assert main_call["status"] == "TOOL_CALL_COMPLETED"
    assert main_call["approval"]["decision"] == "APPROVAL_DECISION_APPROVE"
    assert main_call["approval"]["decidedBy"]
