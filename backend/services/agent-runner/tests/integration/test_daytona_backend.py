"""The Daytona backend's file tools and commands, in-process on the real SDK against the
Daytona protocol fake: the work directory is `/`, secrets are redacted, timeouts kill."""

from __future__ import annotations

import asyncio
import sys
import time
from contextlib import AsyncExitStack

import pytest
from runner_world import daytona_provider

from agent_runner.environment import Redactor
from agent_runner.errors import McpServerUnavailable
from agent_runner.mcp.turn_tools import open_turn_tools
from agent_runner.sandbox import SandboxRequest, check_spec
from agent_runner.sandbox._daytona_backend import TIMEOUT_EXIT_CODE, DaytonaCommandBackend
from ai.stigmer.agentic.agent.v1.api_pb2 import Agent
from ai.stigmer.agentic.agent.v1.spec_pb2 import SandboxSpec
from ai.stigmer.agentic.mcpserver.v1.api_pb2 import McpServer
from stigmer_testing.fakes import FakeDaytona

pytestmark = pytest.mark.integration

SECRET = "tok-backend-5ecret"


async def backend_for(fake: FakeDaytona, **timeouts: int) -> DaytonaCommandBackend:
    provider = daytona_provider(fake, "stigmer-test", **timeouts)
    sandbox = await provider.acquire(
        SandboxRequest(
            session_id="ses-files",
            sandbox_id="",
            env={"API_TOKEN": SECRET},
            redact=Redactor([SECRET]),
        )
    )
    assert isinstance(sandbox.backend, DaytonaCommandBackend)
    return sandbox.backend


async def test_file_tools_see_the_work_directory_as_root(fake_daytona: FakeDaytona) -> None:
    backend = await backend_for(fake_daytona)
    (sandbox,) = fake_daytona.sandboxes()
    written = await backend.awrite("/notes/today.md", "first line\nsecond line\n")
    assert written.error is None
    assert written.path == "/notes/today.md"
    assert (sandbox.root / "notes" / "today.md").read_text() == "first line\nsecond line\n"
    read = await backend.aread("/notes/today.md")
    assert read.error is None
    assert read.file_data is not None
    assert "second line" in str(read.file_data["content"])
    edited = await backend.aedit("/notes/today.md", "second", "2nd")
    assert edited.error is None
    assert edited.path == "/notes/today.md"
    assert "2nd line" in (sandbox.root / "notes" / "today.md").read_text()
    listing = await backend.als("/notes")
    assert [e["path"] for e in listing.entries or []] == ["/notes/today.md"]
    found = await backend.aglob("**/*.md", "/")
    assert [m["path"] for m in found.matches or []] == ["/notes/today.md"]
    grepped = await backend.agrep("2nd", "/")
    assert [(m["path"], m["line"]) for m in grepped.matches or []] == [("/notes/today.md", 2)]
    # The shell starts in the same directory, so relative paths agree with the tools.
    shown = await backend.aexecute("cat notes/today.md")
    assert shown.exit_code == 0
    assert "first line" in shown.output
    missing = await backend.aread("/nowhere.txt")
    assert missing.error is not None
    assert str(sandbox.root) not in missing.error


async def test_commands_are_redacted_capped_and_killed_at_their_timeout(
    fake_daytona: FakeDaytona,
) -> None:
    backend = await backend_for(fake_daytona)
    (sandbox,) = fake_daytona.sandboxes()
    echoed = await backend.aexecute("echo token=$API_TOKEN; echo oops >&2; exit 3")
    assert echoed.exit_code == 3
    assert "token=***" in echoed.output
    assert "[stderr] oops" in echoed.output
    assert "Exit code: 3" in echoed.output
    assert SECRET not in echoed.output
    slow = await backend.aexecute("sleep 4545", timeout=1)
    assert slow.exit_code == TIMEOUT_EXIT_CODE
    assert "timed out after 1 seconds" in slow.output
    assert fake_daytona.running_commands(sandbox.id) == []
    big = await backend.aexecute("head -c 20000 /dev/zero | tr '\\0' x; echo; echo the-end")
    assert big.truncated
    assert big.exit_code == 0
    # The same head-and-tail cut as the local sandbox (one formatting for both).
    head, marker, tail = big.output.partition("\n\n... [")
    assert marker
    assert head == "x" * 5000
    assert "bytes of output omitted] ..." in tail
    assert tail.endswith("x\nthe-end\n")


async def test_a_timeout_the_model_asks_for_is_clamped_to_the_maximum(
    fake_daytona: FakeDaytona,
) -> None:
    backend = await backend_for(fake_daytona, command_timeout=1, max_command_timeout=2)
    (sandbox,) = fake_daytona.sandboxes()
    started = time.monotonic()
    slow = await backend.aexecute("sleep 4546", timeout=3600)
    assert time.monotonic() - started < 10
    assert slow.exit_code == TIMEOUT_EXIT_CODE
    assert slow.output.startswith(
        "Note: the requested timeout of 3600 seconds is above this sandbox's maximum; "
        "the command ran with a timeout of 2 seconds."
    )
    assert "timed out after 2 seconds" in slow.output
    assert fake_daytona.running_commands(sandbox.id) == []
    sync = await asyncio.to_thread(backend.execute, "echo quick", timeout=99)
    assert sync.output.startswith(
        "Note: the requested timeout of 99 seconds is above this sandbox's maximum; "
        "the command ran with a timeout of 2 seconds.\n\nquick"
    )
    within = await backend.aexecute("sleep 1.5; echo done", timeout=2)
    assert (within.exit_code, within.output) == (0, "done\n")


async def test_reuse_with_a_changed_environment_warns_by_name_only(
    fake_daytona: FakeDaytona, caplog: pytest.LogCaptureFixture
) -> None:
    provider = daytona_provider(fake_daytona, "stigmer-test")
    first = await provider.acquire(
        SandboxRequest(session_id="ses-env", sandbox_id="", env={"A": "1"}, redact=Redactor([]))
    )
    again = await provider.acquire(
        SandboxRequest(
            session_id="ses-env",
            sandbox_id=first.id,
            env={"A": "1", "API_TOKEN": SECRET},
            redact=Redactor([SECRET]),
        )
    )
    assert again.id == first.id
    assert len(fake_daytona.sandboxes()) == 1
    assert "changed since: API_TOKEN" in caplog.text
    assert SECRET not in caplog.text


@pytest.mark.parametrize(("state", "starts"), [("starting", 0), ("stopping", 1), ("stopped", 1)])
async def test_a_sandbox_on_its_way_up_or_down_is_reused(
    fake_daytona: FakeDaytona, state: str, starts: int
) -> None:
    provider = daytona_provider(fake_daytona, "stigmer-test")
    first = await provider.acquire(
        SandboxRequest(session_id="ses-state", sandbox_id="", env={}, redact=Redactor([]))
    )
    fake_daytona.set_state(first.id, state)
    again = await provider.acquire(
        SandboxRequest(session_id="ses-state", sandbox_id=first.id, env={}, redact=Redactor([]))
    )
    assert again.id == first.id
    assert fake_daytona.sandbox(first.id).state == "started"
    assert len(fake_daytona.requests_to("POST", f"/api/sandbox/{first.id}/start")) == starts
    assert len(fake_daytona.requests_to("POST", "/api/sandbox")) == 1
    assert (await again.backend.aexecute("echo up")).output.strip() == "up"


async def test_the_agent_spec_picks_the_image_or_the_snapshot(fake_daytona: FakeDaytona) -> None:
    provider = daytona_provider(fake_daytona, "stigmer-test")
    for session, spec in (
        ("ses-image", SandboxSpec(type="daytona", image="python:3.12-slim")),
        ("ses-snap", SandboxSpec(snapshot="team-snapshot")),
    ):
        check_spec(spec, provider)
        await provider.acquire(
            SandboxRequest(
                session_id=session, sandbox_id="", env={}, redact=Redactor([]), spec=spec
            )
        )
    image, snap = fake_daytona.sandboxes()
    assert "FROM python:3.12-slim" in image.request["buildInfo"]["dockerfileContent"]
    assert "snapshot" not in image.request
    assert snap.request["snapshot"] == "team-snapshot"
    assert "buildInfo" not in snap.request


def test_a_spec_for_another_sandbox_type_or_with_both_sources_is_refused(
    fake_daytona: FakeDaytona,
) -> None:
    provider = daytona_provider(fake_daytona, "stigmer-test")
    with pytest.raises(ValueError, match=r"spec.sandbox.type is 'local'.*SANDBOX_TYPE='daytona'"):
        check_spec(SandboxSpec(type="local"), provider)
    with pytest.raises(ValueError, match="both image and snapshot"):
        check_spec(SandboxSpec(image="a", snapshot="b"), provider)


async def test_file_reads_and_grep_never_show_a_secret(fake_daytona: FakeDaytona) -> None:
    backend = await backend_for(fake_daytona)
    (sandbox,) = fake_daytona.sandboxes()
    assert (await backend.aexecute("echo token=$API_TOKEN > leak.txt")).exit_code == 0
    assert SECRET in (sandbox.root / "leak.txt").read_text()
    read = await backend.aread("/leak.txt")
    assert read.file_data is not None
    assert read.file_data["content"].strip() == "token=***"
    grepped = await backend.agrep("token", "/")
    assert [m["text"] for m in grepped.matches or []] == ["token=***"]


STDIO_SERVER = """
import os
from mcp.server.fastmcp import FastMCP

mcp = FastMCP("notes")


@mcp.tool()
def add(a: int, b: int) -> int:
    \"\"\"Adds two integers.\"\"\"
    return a + b


@mcp.tool()
def where() -> str:
    \"\"\"The working directory and the server's environment.\"\"\"
    return os.getcwd() + " " + os.environ["SERVER_MODE"] + " " + " ".join(sorted(os.environ))


mcp.run()
"""


def _stdio_server(*args: str) -> McpServer:
    server = McpServer()
    server.metadata.slug = "notes"
    server.spec.stdio.command = sys.executable
    server.spec.stdio.args.extend(args)
    server.spec.stdio.env["SERVER_MODE"] = "${GREETING}:it's:$$HOME"
    return server


async def test_a_stdio_mcp_server_runs_in_the_daytona_sandbox_through_its_process_api(
    fake_daytona: FakeDaytona,
) -> None:
    backend = await backend_for(fake_daytona)
    (sandbox,) = fake_daytona.sandboxes()
    (sandbox.root / "server.py").write_text(STDIO_SERVER)
    agent = Agent()
    agent.spec.mcp_server_refs.add(slug="notes")
    async with AsyncExitStack() as stack:
        tools = await open_turn_tools(
            stack,
            agent=agent,
            servers={"notes": _stdio_server("server.py")},
            variables={"GREETING": "hello"},
            sandbox=backend,
        )
        by_name = {tool.name: tool for tool in tools.main}
        assert set(by_name) == {"mcp_notes_add", "mcp_notes_where"}
        added, where = await asyncio.gather(
            by_name["mcp_notes_add"].ainvoke({"a": 2, "b": 40}),
            by_name["mcp_notes_where"].ainvoke({}),
        )
        assert "42" in str(added)
        cwd, mode, *names = str(where[0]["text"] if isinstance(where, list) else where).split(" ")
        assert cwd == str(sandbox.root)
        # Quoted for the shell: the value reaches the server unexpanded.
        assert mode == "hello:it's:$HOME"
        assert "API_TOKEN" in names  # the sandbox's own environment is under the server's
        assert [c for c in fake_daytona.running_commands(sandbox.id) if "server.py" in c]
        # The environment file the command sourced is gone: it may hold secrets.
        assert not list((sandbox.root / ".stigmer" / "mcp").glob("*.env"))
    # The turn's end deletes the server's session, which kills it.
    assert not [c for c in fake_daytona.running_commands(sandbox.id) if "server.py" in c]


async def test_a_stdio_server_that_exits_on_daytona_fails_naming_it_and_its_log(
    fake_daytona: FakeDaytona,
) -> None:
    backend = await backend_for(fake_daytona)
    (sandbox,) = fake_daytona.sandboxes()
    (sandbox.root / "broken.py").write_text("import sys\nsys.exit('no config here')\n")
    agent = Agent()
    agent.spec.mcp_server_refs.add(slug="notes")
    async with AsyncExitStack() as stack:
        with pytest.raises(
            McpServerUnavailable, match=r"McpServer 'notes'.*\.stigmer/mcp/notes\.log"
        ):
            await open_turn_tools(
                stack,
                agent=agent,
                servers={"notes": _stdio_server("broken.py")},
                variables={"GREETING": "hello"},
                sandbox=backend,
            )
    assert "no config here" in (sandbox.root / ".stigmer" / "mcp" / "notes.log").read_text()
