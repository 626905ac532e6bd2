"""`eventually` and `eventually_async`: return the first truthy value, or fail at the deadline
with a message that says what was awaited and what the condition last gave."""

from __future__ import annotations

import itertools
import time

import pytest

from stigmer_testing import eventually, eventually_async


def test_returns_the_first_truthy_value() -> None:
    answers = iter([0, [], [7]])
    assert eventually(lambda: next(answers), timeout=5, message="a list", interval=0) == [7]


def test_fails_at_the_deadline_naming_the_wait_and_the_last_value() -> None:
    calls = itertools.count()
    started = time.monotonic()
    with pytest.raises(AssertionError) as caught:
        eventually(lambda: next(calls) < 0, timeout=0.3, message="the file to appear")
    elapsed = time.monotonic() - started
    assert 0.3 <= elapsed < 2
    assert str(caught.value) == ("the file to appear (waited 0.3 s; the condition last was False)")


def test_a_raising_condition_is_retried_and_its_last_error_reported() -> None:
    def missing() -> str:
        raise FileNotFoundError("pid.txt")

    with pytest.raises(AssertionError, match=r"last raised FileNotFoundError: pid\.txt") as caught:
        eventually(missing, timeout=0.1, message=lambda: "pid file (log: tail)")
    assert str(caught.value).startswith("pid file (log: tail)")
    assert isinstance(caught.value.__cause__, FileNotFoundError)


async def test_the_async_form_awaits_coroutine_conditions() -> None:
    answers = iter([None, None, "ready"])

    async def probe() -> str | None:
        return next(answers)

    assert await eventually_async(probe, timeout=5, message="ready", interval=0) == "ready"


async def test_the_async_form_fails_at_the_deadline() -> None:
    with pytest.raises(AssertionError, match=r"^never \(waited 0\.2 s; the condition last was 0\)"):
        await eventually_async(lambda: 0, timeout=0.2, message="never")
