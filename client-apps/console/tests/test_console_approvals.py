"""Approvals in the web console, in a real browser (Debian's Chromium, headless, driven by
Playwright) against a real local system: `stigmer local up` from a fresh STIGMER_HOME, the
examples with examples/approvals (the demo agent, every `execute` waiting for a person) and
the scripted model. Screenshots go to tests/artifacts/ (git-ignored).

The scripted demo turn stops twice: the main agent's `execute` (approve, edit or reject),
then the researcher sub-agent's `execute` (approve or reject only, its own rule).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from console_world import ARTIFACTS, REPO, WAIT_MS, Local, local_system

pytestmark = [pytest.mark.integration, pytest.mark.timeout(420)]

MAIN_CALL = "main-call-1-0"
RESEARCHER_CALL = "researcher-call-0-0"


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Local]:
    with local_system(tmp_path_factory.mktemp("console-approvals-home")) as (system, _):
        system.stigmer("apply", "-f", str(REPO / "examples"))
        system.stigmer("apply", "-f", str(REPO / "examples" / "approvals"))
        yield system


@pytest.fixture
def tab(browser: Any, local: Local) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    opened = context.new_page()
    opened.goto(local.sign_in_link())
    opened.get_by_role("heading", name="Sessions").wait_for(timeout=WAIT_MS)
    yield opened
    context.close()


def _shot(page: Any, name: str, target: Any = None) -> None:
    path = str(ARTIFACTS / f"{name}.png")
    if target is not None:
        target.screenshot(path=path)
    else:
        page.screenshot(path=path, full_page=True, style=".composer,header.top{position:static}")


def _start_turn(tab: Any, text: str) -> Any:
    tab.get_by_role("link", name="Instances").click()
    row = tab.locator("tbody tr").filter(
        has=tab.get_by_role("cell", name="Approval demo", exact=True)
    )
    row.get_by_role("button", name="New session").click()
    tab.wait_for_url(re.compile(r"#/sessions/ses"), timeout=WAIT_MS)
    tab.get_by_label("Message").fill(text)
    tab.get_by_label("Message").press("Enter")
    return tab.get_by_test_id("turn").last


def _call(turn: Any, name: str, status: str) -> Any:
    """The tool call named `name` (main agent's or a sub-agent's) once it shows `status`."""
    call = turn.get_by_label(f"tool call {name}").filter(
        has=turn.page.get_by_test_id("tool-status").filter(has_text=re.compile(f"^{status}$"))
    )
    call.first.wait_for(timeout=WAIT_MS)
    return call.first


def _wait_phase(turn: Any, phase: str) -> None:
    turn.page.wait_for_function(
        "([phase]) => [...document.querySelectorAll('[data-testid=turn]')].pop()"
        "?.dataset.phase === phase",
        arg=[phase],
        timeout=WAIT_MS,
    )


def test_approve_a_waiting_call_from_the_page_and_see_the_turn_complete(
    local: Local, tab: Any
) -> None:
    turn = _start_turn(tab, "Look around.")
    waiting = _call(turn, "execute", "awaiting approval")
    _wait_phase(turn, "awaiting approval")
    assert turn.get_by_test_id("turn-phase").inner_text() == "awaiting approval"
    assert "turn one was here" in waiting.inner_text()  # its arguments, before deciding
    decision = waiting.get_by_test_id("approval")
    # The main agent's rule allows all three.
    for name in ("Approve", "Edit", "Reject"):
        assert decision.get_by_role("button", name=name, exact=True).is_visible()
    _shot(tab, "approval-waiting")
    _shot(tab, "approval-waiting-call", target=waiting)

    # The executions list shows the phase too, and filters on it.
    other = tab.context.new_page()  # a new tab signs in again (the key is kept per tab)
    other.goto(local.sign_in_link())
    other.get_by_role("link", name="Executions", exact=True).click()
    other.get_by_label("Phase").select_option("awaiting approval")
    other.get_by_test_id("execution-phase").first.wait_for(timeout=WAIT_MS)
    phases = other.get_by_test_id("execution-phase").all_inner_texts()
    assert phases, "no execution listed as awaiting approval"
    assert set(phases) == {"awaiting approval"}, phases
    _shot(other, "executions-awaiting-approval")
    other.close()

    # The main rule has no timeout: no deadline shown.
    assert decision.get_by_test_id("approval-prompt").inner_text() == "Waiting for your decision:"
    controls_height = waiting.locator(".tool-controls").bounding_box()["height"]
    # By keyboard: focus Approve, press Enter.
    decision.get_by_role("button", name="Approve", exact=True).focus()
    tab.keyboard.press("Enter")
    decided = turn.get_by_test_id("tool-call").filter(has_text="approved by")
    decided.first.wait_for(timeout=WAIT_MS)
    # The decision line takes the buttons' place at their height: nothing below moves.
    decided_height = decided.first.locator(".tool-controls").bounding_box()["height"]
    assert abs(decided_height - controls_height) <= 1, (controls_height, decided_height)

    # Next the researcher's call waits: its rule allows approve or reject, no edit.
    sub = turn.get_by_test_id("sub-agent")
    researcher = _call(sub, "execute", "awaiting approval")
    buttons = researcher.get_by_test_id("approval").get_by_role("button")
    assert buttons.all_inner_texts() == ["Approve", "Reject"]
    # Its rule has a ten-minute timeout that rejects: the page says so.
    prompt = researcher.get_by_test_id("approval-prompt").inner_text()
    assert re.fullmatch(r"Waiting for your decision \(until .+, then rejected\):", prompt), prompt
    researcher.get_by_role("button", name="Approve", exact=True).click()

    _wait_phase(turn, "completed")
    lines = turn.get_by_test_id("approval-decided").all_inner_texts()
    assert len(lines) == 2, lines
    for line in lines:
        # Who decided (the local key's principal) and when.
        assert re.match(r"approved by \S+ at \S", line), line
    assert turn.get_by_test_id("approval").count() == 0  # no controls left
    assert "turn one was here" in turn.inner_text()  # the approved command ran
    _shot(tab, "approval-approved")


def test_edit_with_the_schema_checked_then_reject_with_a_message_and_a_viewer_is_refused(
    local: Local, tab: Any, browser: Any
) -> None:
    turn = _start_turn(tab, "Look around.")
    waiting = _call(turn, "execute", "awaiting approval")
    session_url = tab.url

    # A viewer key sees the waiting call, and the server refuses its decision clearly.
    created = json.loads(
        local.stigmer("keys", "create", "--name", "watcher", "--role", "viewer", "-o", "json")
    )
    viewer_context = browser.new_context(viewport={"width": 1280, "height": 860})
    viewer = viewer_context.new_page()
    viewer.goto(session_url.split("#", 1)[0])
    viewer.get_by_label("API key").fill(created["key"])
    viewer.get_by_label("API key").press("Enter")
    viewer.get_by_role("heading", name="Sessions").wait_for(timeout=WAIT_MS)
    viewer.goto(session_url)
    seen = _call(viewer.get_by_test_id("turn").last, "execute", "awaiting approval")
    seen.get_by_role("button", name="Approve", exact=True).click()
    refused = seen.get_by_test_id("approval-error")
    refused.wait_for(timeout=WAIT_MS)
    assert refused.inner_text().startswith("PermissionDenied:"), refused.inner_text()
    _shot(viewer, "approval-viewer-refused", target=seen)
    viewer_context.close()

    # Edit: the args as JSON; not JSON is refused on the page, nothing sent.
    waiting.get_by_role("button", name="Edit", exact=True).click()
    editor = waiting.get_by_label("Arguments (JSON) the call runs with")
    assert json.loads(editor.input_value())["command"].startswith("echo")
    editor.fill('{"command": ')
    waiting.get_by_role("button", name="Run with these arguments").click()
    error = waiting.get_by_test_id("approval-error")
    assert "arguments: not valid JSON" in error.inner_text()
    # Valid JSON the tool's schema refuses: the server's message, the text kept.
    editor.fill('{"command": 42}')
    waiting.get_by_role("button", name="Run with these arguments").click()
    error.filter(has_text="does not fit").wait_for(timeout=WAIT_MS)
    assert "InvalidArgument" in error.inner_text()
    assert editor.input_value() == '{"command": 42}'
    _shot(tab, "approval-edit-refused", target=waiting)
    editor.fill('{"command": "echo edited.from.the.console"}')
    waiting.get_by_role("button", name="Run with these arguments").click()
    turn.get_by_test_id("approval-decided").filter(has_text="edited by").wait_for(timeout=WAIT_MS)

    # The researcher's call: rejected with a message, by keyboard.
    sub = turn.get_by_test_id("sub-agent")
    researcher = _call(sub, "execute", "awaiting approval")
    researcher.get_by_role("button", name="Reject", exact=True).click()
    reason = researcher.get_by_label("Why (the agent reads this)")
    assert reason.evaluate("(field) => field === document.activeElement")
    tab.keyboard.type("read-only please")
    tab.keyboard.press("Enter")

    _wait_phase(turn, "completed")
    main = turn.get_by_test_id("tool-call").filter(has_text="edited by").first
    # The edited args are shown, and the command ran with them (its output is the result).
    assert main.inner_text().count("edited.from.the.console") >= 2, main.inner_text()
    rejected = _call(sub, "execute", "rejected")
    assert "read-only please" in rejected.get_by_test_id("approval-decided").inner_text()
    assert rejected.get_by_test_id("approval-decided").inner_text().startswith("rejected by ")
    _shot(tab, "approval-edited-and-rejected")
