"""The web console in a real browser (Debian's Chromium, headless, driven by Playwright)
against a real local system: `stigmer local up` from a fresh STIGMER_HOME, the examples and
the scripted model. Screenshots of each page go to tests/artifacts/ (git-ignored).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from console_world import ARTIFACTS, REPO, WAIT_MS, Local, local_system
from playwright import sync_api

from stigmer_testing import eventually

pytestmark = [pytest.mark.integration, pytest.mark.timeout(420)]

SECRET = "demo-token-not-a-real-secret"  # examples/environments.yaml
SLOW = """\
apiVersion: agentic.stigmer.ai/v1
kind: Agent
metadata: {name: Slow agent}
spec:
  model: scripted:%s
  instructions: Wait.
---
apiVersion: agentic.stigmer.ai/v1
kind: AgentInstance
metadata: {name: Slow}
spec: {agent: slow-agent}
"""
SLOW_SCRIPT = """\
replies:
  - tool_calls:
      - {name: execute, args: {command: "sleep 60"}}
  - text: "slept"
"""
KEYLESS = """\
apiVersion: agentic.stigmer.ai/v1
kind: Agent
metadata: {name: Keyless}
spec: {model: 'openai:gpt-4.1-mini', instructions: hi}
---
apiVersion: agentic.stigmer.ai/v1
kind: AgentInstance
metadata: {name: Keyless}
spec: {agent: keyless}
"""


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Local]:
    home = tmp_path_factory.mktemp("console-home")
    with local_system(home) as (system, up):
        assert "Console: http://127.0.0.1:" in up
        system.stigmer("apply", "-f", str(REPO / "examples"))
        script = home / "slow-script.yaml"
        script.write_text(SLOW_SCRIPT, encoding="utf-8")
        manifest = home / "slow.yaml"
        manifest.write_text(SLOW % script, encoding="utf-8")
        system.stigmer("apply", "-f", str(manifest))
        keyless = home / "keyless.yaml"
        keyless.write_text(KEYLESS, encoding="utf-8")
        system.stigmer("apply", "-f", str(keyless))
        yield system


@dataclass
class Seen:
    """Every API response body the page received (streams once they ended)."""

    bodies: list[bytes]


@pytest.fixture
def page(browser: Any) -> Iterator[tuple[Any, Seen]]:
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    opened = context.new_page()
    seen = Seen([])

    def finished(request: Any) -> None:
        response = request.response()
        if response is not None:
            # A stream the page aborted (navigation) has no complete body.
            with contextlib.suppress(sync_api.Error):
                seen.bodies.append(response.body())

    opened.on("requestfinished", finished)
    yield opened, seen
    context.close()


def _shot(page: Any, name: str) -> None:
    # The whole page; the composer, sticky at the bottom of the window, is drawn in its place.
    page.screenshot(
        path=str(ARTIFACTS / f"{name}.png"), full_page=True, style=".composer{position:static}"
    )


def _no_secret(page: Any, seen: Seen) -> None:
    assert SECRET not in page.content()
    leaked = [body[:200] for body in seen.bodies if SECRET.encode() in body]
    assert leaked == [], leaked


def _start_session(page: Any, instance: str) -> None:
    page.get_by_role("link", name="Instances").click()
    row = page.locator("tbody tr").filter(has=page.get_by_role("cell", name=instance, exact=True))
    row.get_by_role("button", name="New session").click()
    page.wait_for_url(re.compile(r"#/sessions/ses"), timeout=WAIT_MS)


_RECORD_FIRST_SEEN = """() => {
  window.firstSeen = {moved: 0};
  let top = null;
  new MutationObserver(() => {
    const turn = [...document.querySelectorAll('[data-testid=turn]')].pop();
    if (!turn) return;
    // The turn's own message sits above everything the turn streams: it must not move.
    const now = turn.querySelector('[data-testid=user-message]').getBoundingClientRect().top
      + window.scrollY;
    if (top === null) top = now;
    else if (Math.abs(now - top) > 0.5) {
      window.firstSeen.moved += 1;
      window.firstSeen.last_move = [top, now, turn.dataset.phase];
      top = now;
    }
    for (const part of ['tool-call', 'todos', 'sub-agent']) {
      if (!(part in window.firstSeen) && turn.querySelector(`[data-testid=${part}]`)) {
        window.firstSeen[part] = turn.dataset.phase;
      }
    }
  }).observe(document.body, {subtree: true, childList: true, attributes: true});
}"""


def _wait_phase(tab: Any, phase: str) -> None:
    last_turn = "[...document.querySelectorAll('[data-testid=turn]')].pop()?.dataset.phase"
    tab.wait_for_function(f"() => {last_turn} === '{phase}'", timeout=WAIT_MS)


def _send(page: Any, text: str) -> None:
    page.get_by_label("Message").fill(text)
    page.get_by_label("Message").press("Enter")


def test_sign_in_with_the_one_time_link_then_run_the_demo_turn_live(
    local: Local, page: tuple[Any, Seen]
) -> None:
    tab, seen = page
    link = local.sign_in_link()
    tab.goto(link)
    tab.get_by_role("heading", name="Sessions").wait_for(timeout=WAIT_MS)
    assert "ticket" not in tab.url
    tab.get_by_text("Loading…").wait_for(state="hidden", timeout=WAIT_MS)
    _shot(tab, "sessions")
    for name, heading in [
        ("Agents", "Agents"),
        ("Instances", "Agent instances"),
        ("Executions", "Executions"),
    ]:
        tab.get_by_role("link", name=name, exact=True).click()
        tab.get_by_role("heading", name=heading).wait_for()
        tab.get_by_text("Loading…").wait_for(state="hidden", timeout=WAIT_MS)
        _shot(tab, name.lower())

    _start_session(tab, "Demo")
    # What the page showed first of each part, and the turn's phase at that moment.
    tab.evaluate(_RECORD_FIRST_SEEN)
    _send(tab, "Look around please.")
    turn = tab.get_by_test_id("turn").last
    # Live: a tool call shows up while the turn still runs, then todos and the sub-agent.
    turn.get_by_test_id("tool-call").first.wait_for(timeout=WAIT_MS)
    turn.get_by_test_id("todos").wait_for(timeout=WAIT_MS)
    turn.get_by_test_id("sub-agent").wait_for(timeout=WAIT_MS)
    _wait_phase(tab, "completed")
    first_seen = tab.evaluate("() => window.firstSeen")
    for part in ("tool-call", "todos", "sub-agent"):
        assert first_seen.get(part) in ("pending", "running"), first_seen  # live, not at the end
    assert first_seen["moved"] == 0, str(first_seen)  # nothing above the streaming text moved
    assert "turn one was here" in turn.inner_text()
    # Long output is collapsed to its first lines, and opens from the keyboard.
    summary = turn.locator("details.collapsible > summary").first
    summary.focus()
    summary.press("Enter")
    assert turn.locator("details.collapsible").first.get_attribute("open") is not None
    assert "researcher" in turn.get_by_test_id("sub-agent").inner_text()
    assert turn.get_by_test_id("sub-agent").get_by_test_id("tool-call").count() >= 1
    assert "completed" in turn.get_by_test_id("tool-status").first.inner_text()
    _shot(tab, "session")
    _no_secret(tab, seen)


def test_the_link_make_run_prints_opens_its_session_with_both_turns(
    local: Local, page: tuple[Any, Seen]
) -> None:
    tab, seen = page
    session_file = local.home / "demo-session"
    local.stigmer("run", "demo", "Look around please.", "--write-session-id", str(session_file))
    session = session_file.read_text(encoding="utf-8").strip()
    local.stigmer("run", "demo", "What did you leave?", "--session", session)
    tab.goto(local.sign_in_link("--session", session))
    turns = tab.get_by_test_id("turn")
    turns.nth(1).wait_for(timeout=WAIT_MS)
    assert tab.url.endswith(f"#/sessions/{session}")
    assert turns.count() == 2
    assert [turns.nth(i).get_attribute("data-phase") for i in range(2)] == ["completed"] * 2
    assert "turn one was here" in turns.nth(1).inner_text()
    _shot(tab, "session-two-turns")
    _no_secret(tab, seen)


def test_cancel_a_long_turn(local: Local, page: tuple[Any, Seen]) -> None:
    tab, seen = page
    tab.goto(local.sign_in_link())
    tab.get_by_role("heading", name="Sessions").wait_for(timeout=WAIT_MS)
    _start_session(tab, "Slow")
    _send(tab, "Take your time.")
    turn = tab.get_by_test_id("turn").last
    turn.get_by_test_id("tool-status").filter(has_text="running").wait_for(timeout=WAIT_MS)
    turn.get_by_test_id("cancel").click()
    _wait_phase(tab, "cancelled")
    assert turn.get_by_test_id("cancel").count() == 0
    # The call the turn was running will not finish: shown as stopped, not as running.
    assert turn.get_by_test_id("tool-status").first.inner_text() in ("stopped", "failed")
    _shot(tab, "cancelled")
    _no_secret(tab, seen)


def test_a_failed_turn_shows_its_error(local: Local, page: tuple[Any, Seen]) -> None:
    tab, _ = page
    tab.goto(local.sign_in_link())
    tab.get_by_role("heading", name="Sessions").wait_for(timeout=WAIT_MS)
    _start_session(tab, "Keyless")
    _send(tab, "Hello?")
    _wait_phase(tab, "failed")
    error = tab.get_by_test_id("turn").last.get_by_test_id("turn-error")
    assert "OPENAI_API_KEY" in error.inner_text()  # the runner's error, as the CLI shows it
    _shot(tab, "failed")


def test_a_live_turn_survives_a_server_crash(local: Local, page: tuple[Any, Seen]) -> None:
    tab, _ = page
    tab.goto(local.sign_in_link())
    tab.get_by_role("heading", name="Sessions").wait_for(timeout=WAIT_MS)
    _start_session(tab, "Slow")
    _send(tab, "Take your time.")
    turn = tab.get_by_test_id("turn").last
    turn.get_by_test_id("tool-status").filter(has_text="running").wait_for(timeout=WAIT_MS)
    state = json.loads((local.home / "local-state.json").read_text(encoding="utf-8"))
    server = state["components"]["stigmer-server"]
    os.kill(server["pid"], signal.SIGKILL)
    # The supervisor starts the server again; the page opens its stream again.
    eventually(
        lambda: _restarted(local.home, server["pid"]),
        timeout=60,
        message="the supervisor to restart the killed stigmer-server",
    )
    eventually(
        lambda: local.stigmer("local", "status", timeout=30),  # exit 0: all ready again
        timeout=60,
        message="every component ready after the restart",
    )
    turn.get_by_test_id("cancel").click()
    _wait_phase(tab, "cancelled")  # seen through the re-opened stream
    assert turn.get_by_test_id("stream-error").count() == 0


def _restarted(home: Path, old_pid: int) -> bool:
    state = json.loads((home / "local-state.json").read_text(encoding="utf-8"))
    server = state["components"]["stigmer-server"]
    return bool(server["pid"] not in (None, old_pid) and server["phase"] == "running")


def test_a_wrong_key_is_refused_and_a_used_link_does_not_sign_in(
    local: Local, page: tuple[Any, Seen]
) -> None:
    tab, _ = page
    link = local.sign_in_link()
    base = link.split("#", 1)[0]
    tab.goto(base)
    # By keyboard only: the key field has the focus, Enter submits.
    tab.keyboard.type("stk_wrong_key")
    tab.keyboard.press("Enter")
    error = tab.get_by_test_id("sign-in-error")
    error.wait_for(timeout=WAIT_MS)
    assert "Unauthenticated" in error.inner_text()
    _shot(tab, "sign-in-refused")

    # A fresh tab (the same one would only change its hash): the first use signs in...
    first = tab.context.new_page()
    first.goto(link)
    first.get_by_role("heading", name="Sessions").wait_for(timeout=WAIT_MS)
    # The lists again, now that the turns above made sessions and executions.
    first.locator("tbody tr").first.wait_for(timeout=WAIT_MS)
    _shot(first, "sessions")
    first.get_by_role("link", name="Executions", exact=True).click()
    first.locator("tbody tr").first.wait_for(timeout=WAIT_MS)
    _shot(first, "executions")
    # ...and the link is spent: another tab opening it is refused.
    second = tab.context.new_page()
    second.goto(link)
    second.get_by_test_id("sign-in-error").wait_for(timeout=WAIT_MS)
    assert "already used" in second.get_by_test_id("sign-in-error").inner_text()
