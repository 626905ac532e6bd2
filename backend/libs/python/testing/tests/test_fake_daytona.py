"""The Daytona fake, proven with the real `daytona` SDK and langchain-daytona's sandbox."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from daytona import (
    AsyncDaytona,
    CreateSandboxFromImageParams,
    CreateSandboxFromSnapshotParams,
    Daytona,
    DaytonaAuthenticationError,
    DaytonaBadRequestError,
    DaytonaConfig,
    DaytonaConflictError,
    DaytonaInternalServerError,
    DaytonaNotFoundError,
    DaytonaProcessExecutionTimeoutError,
    FileDownloadRequest,
    FileUpload,
    ListSandboxesQuery,
    Sandbox,
    SandboxState,
    SessionExecuteRequest,
)
from langchain_daytona import DaytonaSandbox  # type: ignore[import-untyped]

from stigmer_testing.fakes import Failure, FakeDaytona

pytestmark = pytest.mark.integration

OWNER = {"stigmer.org": "org-1", "stigmer.session": "session-1"}


def _client(fake: FakeDaytona, api_key: str | None = None) -> Daytona:
    return Daytona(
        DaytonaConfig(api_key=api_key or fake.api_key, api_url=fake.api_url, target="us")
    )


def _state(sandbox: Sandbox) -> SandboxState | None:
    """The state the SDK last saw (a call keeps mypy from narrowing across stop and start)."""
    return sandbox.state


@pytest.fixture
def daytona(fake_daytona: FakeDaytona) -> Daytona:
    return _client(fake_daytona)


@pytest.fixture
def sandbox(daytona: Daytona) -> Sandbox:
    return daytona.create(
        CreateSandboxFromSnapshotParams(
            snapshot="stigmer-base",
            labels=OWNER,
            env_vars={"GREETING": "hello from env"},
            auto_stop_interval=15,
            auto_delete_interval=60,
        )
    )


def test_create_sends_labels_env_and_intervals_and_waits_until_started(
    fake_daytona: FakeDaytona, sandbox: Sandbox
) -> None:
    assert sandbox.state == SandboxState.STARTED
    (create,) = fake_daytona.requests_to("POST", "/api/sandbox")
    body = create.json()
    assert body["snapshot"] == "stigmer-base"
    assert body["env"] == {"GREETING": "hello from env"}
    assert body["labels"] == {**OWNER, "code-toolbox-language": "python"}
    assert (body["autoStopInterval"], body["autoDeleteInterval"]) == (15, 60)
    assert create.headers["authorization"] == f"Bearer {fake_daytona.api_key}"
    # The fake answered `creating`, so the SDK had to poll once before returning.
    assert fake_daytona.requests_to("GET", f"/api/sandbox/{sandbox.id}")
    assert fake_daytona.sandbox(sandbox.id).labels == body["labels"]


def test_an_image_create_carries_the_build_info(
    daytona: Daytona, fake_daytona: FakeDaytona
) -> None:
    created = daytona.create(CreateSandboxFromImageParams(image="python:3.12-slim", labels=OWNER))

    body = fake_daytona.sandbox(created.id).request
    assert "snapshot" not in body
    assert body["buildInfo"]["dockerfileContent"].startswith("FROM python:3.12-slim")


def test_exec_runs_for_real_in_the_sandbox_directory(
    fake_daytona: FakeDaytona, sandbox: Sandbox
) -> None:
    root = fake_daytona.sandbox(sandbox.id).root

    result = sandbox.process.exec(
        "echo $GREETING; echo $EXTRA; pwd; echo made > made.txt", env={"EXTRA": "x"}, timeout=10
    )

    assert result.exit_code == 0
    assert result.result.splitlines() == ["hello from env", "x", str(root)]
    assert (root / "made.txt").read_text() == "made\n"
    assert sandbox.get_work_dir() == str(root)
    assert sandbox.process.exec("exit 3").exit_code == 3


def test_exec_honours_cwd_and_refuses_a_missing_one(
    fake_daytona: FakeDaytona, sandbox: Sandbox
) -> None:
    root = fake_daytona.sandbox(sandbox.id).root
    (root / "sub").mkdir()

    assert sandbox.process.exec("pwd", cwd="sub").result == f"{root}/sub\n"
    assert sandbox.process.exec("pwd", cwd="/sub").result == f"{root}/sub\n", "re-rooted"
    with pytest.raises(DaytonaBadRequestError, match="cwd 'nowhere' is not a directory"):
        sandbox.process.exec("pwd", cwd="nowhere")


def test_exec_past_its_timeout_is_killed_with_a_timeout_error(
    fake_daytona: FakeDaytona, sandbox: Sandbox
) -> None:
    with pytest.raises(DaytonaProcessExecutionTimeoutError, match="timeout"):
        sandbox.process.exec("sleep 30", timeout=1)
    assert fake_daytona.running_commands(sandbox.id) == []


def test_files_go_up_and_come_back_down_byte_for_byte(
    fake_daytona: FakeDaytona, sandbox: Sandbox
) -> None:
    workdir = sandbox.get_work_dir()
    data = bytes(range(256)) + b"\r\n--boundary-looking line\r\n"
    sandbox.fs.upload_files(
        [
            FileUpload(source=data, destination=f"{workdir}/skills/a/SKILL.md"),
            FileUpload(source=b"two", destination="/elsewhere/b.txt"),
        ]
    )

    root = fake_daytona.sandbox(sandbox.id).root
    assert (root / "skills/a/SKILL.md").read_bytes() == data
    # A path outside the work dir is re-rooted under it: the fake never writes elsewhere.
    assert (root / "elsewhere/b.txt").read_bytes() == b"two"
    assert sandbox.process.exec("cat skills/a/SKILL.md | wc -c").result.strip() == str(len(data))

    found, missing = sandbox.fs.download_files(
        [
            FileDownloadRequest(source=f"{workdir}/skills/a/SKILL.md"),
            FileDownloadRequest(source=f"{workdir}/nope.txt"),
        ]
    )
    assert found.result == data
    assert found.error is None
    assert missing.result is None
    assert missing.error is not None
    assert "not found" in missing.error


def test_an_upload_escaping_the_sandbox_is_refused_and_writes_nothing(
    fake_daytona: FakeDaytona, sandbox: Sandbox, tmp_path: Path
) -> None:
    workdir = sandbox.get_work_dir()
    with pytest.raises(Exception, match="leaves the sandbox"):
        sandbox.fs.upload_files(
            [
                FileUpload(source=b"ok", destination=f"{workdir}/first.txt"),
                FileUpload(source=b"bad", destination=f"{workdir}/../../escape.txt"),
            ]
        )
    assert not (fake_daytona.sandbox(sandbox.id).root / "first.txt").exists()


def test_list_filters_by_label_and_pages(
    daytona: Daytona, fake_daytona: FakeDaytona, sandbox: Sandbox
) -> None:
    other = daytona.create(
        CreateSandboxFromSnapshotParams(snapshot="s", labels={"stigmer.session": "session-2"})
    )

    mine = [s.id for s in daytona.list(ListSandboxesQuery(labels={"stigmer.session": "session-1"}))]
    everyone = {s.id for s in daytona.list()}

    assert mine == [sandbox.id]
    assert everyone == {sandbox.id, other.id}
    paged = {s.id for s in daytona.list(ListSandboxesQuery(limit=1))}
    assert paged == everyone, "the SDK follows nextCursor through every page"
    assert len([r for r in fake_daytona.requests if r.query.get("limit") == ["1"]]) == 2
    assert list(daytona.list(ListSandboxesQuery(labels={"stigmer.session": "nobody"}))) == []


def test_a_stopped_sandbox_refuses_commands_until_started(
    daytona: Daytona, fake_daytona: FakeDaytona, sandbox: Sandbox
) -> None:
    daytona.stop(sandbox)
    assert _state(sandbox) == SandboxState.STOPPED
    with pytest.raises(DaytonaConflictError, match="not started"):
        sandbox.process.exec("true")

    daytona.start(sandbox)
    assert _state(sandbox) == SandboxState.STARTED
    assert sandbox.process.exec("echo back").result == "back\n"
    assert len(fake_daytona.requests_to("POST", f"/api/sandbox/{sandbox.id}/start")) == 1


def test_delete_removes_the_sandbox_and_its_directory(
    daytona: Daytona, fake_daytona: FakeDaytona, sandbox: Sandbox
) -> None:
    root = fake_daytona.sandbox(sandbox.id).root

    daytona.delete(sandbox, wait=True)

    assert not root.exists()
    assert fake_daytona.sandboxes() == []
    with pytest.raises(DaytonaNotFoundError):
        daytona.get(sandbox.id)


def test_hooks_change_a_sandbox_behind_the_clients_back(
    daytona: Daytona, fake_daytona: FakeDaytona, sandbox: Sandbox
) -> None:
    fake_daytona.set_state(sandbox.id, "stopped")
    assert daytona.get(sandbox.id).state == SandboxState.STOPPED

    fake_daytona.set_state(sandbox.id, "error")
    assert daytona.get(sandbox.id).state == SandboxState.ERROR

    fake_daytona.discard(sandbox.id)
    with pytest.raises(DaytonaNotFoundError):
        daytona.get(sandbox.id)


def test_timestamps_follow_activity_and_can_be_aged(
    daytona: Daytona, fake_daytona: FakeDaytona, sandbox: Sandbox
) -> None:
    held = fake_daytona.sandbox(sandbox.id)
    held.created_at = held.last_activity_at = datetime(2025, 1, 1, tzinfo=UTC)

    (listed,) = daytona.list(ListSandboxesQuery(labels=OWNER))
    assert listed.created_at == "2025-01-01T00:00:00.000Z"
    assert listed.last_activity_at == "2025-01-01T00:00:00.000Z"

    sandbox.process.exec("true")
    assert held.last_activity_at.year > 2025, "toolbox use counts as activity"


def test_deleting_a_session_kills_its_running_command(
    fake_daytona: FakeDaytona, sandbox: Sandbox
) -> None:
    sandbox.process.create_session("turn-1")
    started = sandbox.process.execute_session_command(
        "turn-1", SessionExecuteRequest(command="echo started; sleep 30", run_async=True)
    )
    assert started.cmd_id is not None
    assert fake_daytona.running_commands(sandbox.id) == ["echo started; sleep 30"]
    assert sandbox.process.get_session_command("turn-1", started.cmd_id).exit_code is None

    sandbox.process.delete_session("turn-1")

    assert fake_daytona.running_commands(sandbox.id) == []


def test_a_wrong_api_key_is_refused(fake_daytona: FakeDaytona) -> None:
    with pytest.raises(DaytonaAuthenticationError):
        _client(fake_daytona, api_key="dtn-wrong").create(
            CreateSandboxFromSnapshotParams(snapshot="s")
        )


def test_an_injected_failure_reaches_the_sdk(daytona: Daytona, fake_daytona: FakeDaytona) -> None:
    fake_daytona.fail(Failure(500, "no capacity in us", method="POST", path="/api/sandbox"))

    with pytest.raises(DaytonaInternalServerError, match="no capacity in us"):
        daytona.create(CreateSandboxFromSnapshotParams(snapshot="s"))
    assert fake_daytona.sandboxes() == []
    assert daytona.create(CreateSandboxFromSnapshotParams(snapshot="s")).state == "started"


async def test_the_async_client_works_too(fake_daytona: FakeDaytona) -> None:
    config = DaytonaConfig(api_key=fake_daytona.api_key, api_url=fake_daytona.api_url, target="us")
    async with AsyncDaytona(config) as client:
        created = await client.create(CreateSandboxFromSnapshotParams(snapshot="s", labels=OWNER))
        result = await created.process.exec("echo async")
        await client.delete(created)

    assert result.result == "async\n"
    assert fake_daytona.requests_to("POST", "/api/sandbox")[0].headers["x-daytona-source"] == (
        "sdk-python-async"
    )


def test_langchain_daytona_sandbox_executes_and_edits_files(
    fake_daytona: FakeDaytona, sandbox: Sandbox
) -> None:
    backend = DaytonaSandbox(sandbox=sandbox, timeout=30, sync_polling_interval=0.05)
    workdir = sandbox.get_work_dir()

    ran = backend.execute("echo out; echo err >&2; exit 2")
    assert (ran.exit_code, ran.output) == (2, "out\n\n<stderr>err</stderr>")

    assert backend.write(f"{workdir}/notes/plan.md", "step one\nstep two\n").error is None
    read = backend.read(f"{workdir}/notes/plan.md")
    assert read.error is None
    assert read.file_data is not None
    assert "step two" in read.file_data["content"]
    listed = backend.ls(f"{workdir}/notes")
    assert [entry["path"] for entry in listed.entries or []] == [f"{workdir}/notes/plan.md"]
    assert (fake_daytona.sandbox(sandbox.id).root / "notes/plan.md").is_file()


def test_langchain_daytona_timeout_kills_the_command(
    fake_daytona: FakeDaytona, sandbox: Sandbox
) -> None:
    backend = DaytonaSandbox(sandbox=sandbox, timeout=30, sync_polling_interval=0.05)
    began = time.monotonic()

    # Under 1 s langchain-daytona gives up without asking: 2 s really starts the command.
    ran = backend.execute("echo partial; sleep 30", timeout=2)

    assert ran.exit_code == 124
    assert ran.output.startswith("Command timed out after 2 seconds")
    assert "partial" in ran.output, "the logs so far come back with the timeout"
    assert time.monotonic() - began < 10
    assert fake_daytona.running_commands(sandbox.id) == [], "deleting the session killed it"
    deletes = [
        r
        for r in fake_daytona.requests
        if r.method == "DELETE" and r.path.startswith(f"/toolbox/{sandbox.id}/process/session/")
    ]
    assert len(deletes) == 1
