"""The local sandbox runs real subprocesses: env, caps, timeouts, kill on cancel, isolation."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from agent_runner.environment import Redactor
from agent_runner.sandbox import (
    LocalSandboxProvider,
    LocalSandboxSettings,
    Sandbox,
    SandboxRequest,
    probe_bwrap,
)
from stigmer_testing import eventually_async


def running(pid: int) -> bool:
    """Alive and not a zombie (a killed orphan may wait for a reaper that never comes)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def provider(
    root: Path, isolation: str = "none", timeout: int = 10, max_timeout: int | None = None
) -> LocalSandboxProvider:
    return LocalSandboxProvider(
        LocalSandboxSettings(
            root=root,
            command_timeout=timeout,
            max_output_bytes=2000,
            isolation=isolation,
            network=False,
            max_command_timeout=max_timeout,
        )
    )


async def acquire(p: LocalSandboxProvider, sandbox_id: str = "", **env: str) -> Sandbox:
    secrets = [v for k, v in env.items() if k.endswith("TOKEN")]
    return await p.acquire(
        SandboxRequest(session_id="ses-1", sandbox_id=sandbox_id, env=env, redact=Redactor(secrets))
    )


async def test_a_sandbox_per_session_reused_while_its_workspace_exists(tmp_path: Path) -> None:
    p = provider(tmp_path)
    workspace = tmp_path / "local-ses-1"
    assert not workspace.exists()
    first = await acquire(p)
    assert first.id == "local-ses-1"
    assert workspace.is_dir()
    (workspace / "kept.txt").write_text("still here")
    again = await acquire(p, first.id)
    assert again.id == first.id
    assert (workspace / "kept.txt").read_text() == "still here"
    # Another provider's id is never a workspace of ours: the session gets its own instead.
    foreign = await acquire(p, "daytona-abc")
    assert foreign.id == "local-ses-1"


async def test_commands_see_only_the_turn_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STIGMER_API_KEY", "runner-key-must-not-leak")
    sandbox = await acquire(provider(tmp_path), GREETING="hello")
    result = await sandbox.backend.aexecute("env")
    assert "GREETING=hello" in result.output
    assert "PATH=/usr/local/sbin" in result.output
    assert "runner-key-must-not-leak" not in result.output
    assert result.exit_code == 0


async def test_secret_values_are_redacted_in_command_output(tmp_path: Path) -> None:
    sandbox = await acquire(provider(tmp_path), API_TOKEN="tok-123456")
    result = await sandbox.backend.aexecute("echo token=$API_TOKEN >&2; exit 4")
    assert "tok-123456" not in result.output
    assert "[stderr] token=***" in result.output
    assert result.exit_code == 4


async def test_output_is_capped_to_its_head_and_tail(tmp_path: Path) -> None:
    sandbox = await acquire(provider(tmp_path))
    for result in (
        await sandbox.backend.aexecute("head -c 100000 /dev/zero | tr '\\0' x; echo; echo end"),
        sandbox.backend.execute("head -c 100000 /dev/zero | tr '\\0' x; echo; echo end"),
    ):
        assert result.truncated
        assert result.exit_code == 0
        assert result.output == (
            "x" * 1000 + "\n\n... [98005 bytes of output omitted] ...\n\n" + "x" * 995 + "\nend\n"
        )


async def test_a_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    sandbox = await acquire(provider(tmp_path, timeout=1))
    result = await sandbox.backend.aexecute("sleep 30 & echo $! > child.pid; wait")
    assert result.exit_code == 124
    child = int((tmp_path / "local-ses-1" / "child.pid").read_text())
    # SIGKILL is delivered at once, but the orphan leaves /proc only when it is reaped.
    await eventually_async(
        lambda: not running(child),
        timeout=5,
        message=f"the timed-out command's child {child} to be gone",
    )


async def test_a_timeout_the_model_asks_for_is_clamped_to_the_maximum(tmp_path: Path) -> None:
    sandbox = await acquire(provider(tmp_path, timeout=1, max_timeout=2))
    started = time.monotonic()
    # deepagents lets the model ask for up to an hour; the sandbox's maximum wins.
    slow = await sandbox.backend.aexecute("sleep 30", timeout=3600)
    assert time.monotonic() - started < 10
    assert slow.exit_code == 124
    assert slow.output.startswith(
        "Note: the requested timeout of 3600 seconds is above this sandbox's maximum; "
        "the command ran with a timeout of 2 seconds."
    )
    assert "timed out after 2 seconds" in slow.output
    sync = sandbox.backend.execute("echo quick", timeout=99)
    assert sync.output == (
        "Note: the requested timeout of 99 seconds is above this sandbox's maximum; "
        "the command ran with a timeout of 2 seconds.\n\nquick\n"
    )
    # Within the maximum, the model's own timeout is used as asked, without a note.
    longer = await sandbox.backend.aexecute("sleep 1.5; echo done", timeout=2)
    assert (longer.exit_code, longer.output) == (0, "done\n")


async def test_cancel_stops_the_command(tmp_path: Path) -> None:
    sandbox = await acquire(provider(tmp_path))
    task = asyncio.create_task(sandbox.backend.aexecute("echo $$ > shell.pid; sleep 30"))
    pid_file = tmp_path / "local-ses-1" / "shell.pid"
    pid = int(
        await eventually_async(
            lambda: pid_file.read_text().strip(), timeout=10, message="the shell to write its pid"
        )
    )
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await eventually_async(
        lambda: not running(pid), timeout=5, message=f"the cancelled shell {pid} to be gone"
    )


def test_sync_execute_works_too(tmp_path: Path) -> None:
    sandbox = asyncio.run(acquire(provider(tmp_path)))
    assert sandbox.backend.execute("echo sync").output.strip() == "sync"


async def test_bubblewrap_keeps_the_system_read_only_and_the_workspace_writable(
    tmp_path: Path,
) -> None:
    if probe_bwrap(tmp_path) is None:
        pytest.skip("bubblewrap is not installed or cannot create namespaces on this host")
    p = provider(tmp_path, isolation="bwrap")
    assert p.isolated
    sandbox = await acquire(p)
    result = await sandbox.backend.aexecute(
        "echo ok > inside.txt && cat inside.txt; touch /usr/x 2>&1; ls /root 2>&1; ls /work 2>&1;"
        " cat /etc/shadow 2>&1; awk 'BEGIN { print \"awk-works\" }'; id -un"
    )
    assert (tmp_path / "local-ses-1" / "inside.txt").read_text() == "ok\n"
    assert "Read-only file system" in result.output
    assert "No such file or directory" in result.output
    assert "/etc/shadow: No such file or directory" in result.output
    assert "awk-works" in result.output  # /etc/alternatives is there for the tools


@pytest.mark.parametrize("delay", [0.0, 0.005, 0.02, 0.1])
async def test_an_early_cancel_leaves_no_bubblewrap_behind(tmp_path: Path, delay: float) -> None:
    if probe_bwrap(tmp_path) is None:
        pytest.skip("bubblewrap is not installed or cannot create namespaces on this host")
    sandbox = await acquire(provider(tmp_path, isolation="bwrap"))
    marker = f"sleep 47{int(delay * 1000):02d}"
    task = asyncio.create_task(sandbox.backend.aexecute(marker))
    await asyncio.sleep(delay)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await eventually_async(
        lambda: leftovers(marker) == [], timeout=5, message=f"no `{marker}` process left"
    )


def leftovers(marker: str) -> list[int]:
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (FileNotFoundError, ProcessLookupError):
            continue
        if marker in cmdline and running(int(proc.name)):
            found.append(int(proc.name))
    return found


async def test_secret_values_are_redacted_in_file_reads_and_grep(tmp_path: Path) -> None:
    sandbox = await acquire(provider(tmp_path), API_TOKEN="tok-123456")
    written = await sandbox.backend.aexecute("echo token=$API_TOKEN > leak.txt")
    assert written.exit_code == 0
    # The file really holds the secret; what the model is shown does not.
    assert "tok-123456" in (tmp_path / "local-ses-1" / "leak.txt").read_text()
    for read in (sandbox.backend.read("/leak.txt"), await sandbox.backend.aread("/leak.txt")):
        assert read.error is None
        assert read.file_data is not None
        assert read.file_data["content"].strip() == "token=***"
    for grep in (sandbox.backend.grep("token"), await sandbox.backend.agrep("token")):
        assert grep.matches, grep
        assert [m["text"] for m in grep.matches] == ["token=***"]
