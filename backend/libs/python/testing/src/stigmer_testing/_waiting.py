"""Waiting on a condition in a test: polled until true, or an assertion at a deadline.

A fixed number of polls says nothing about time (a loaded machine polls more slowly), and a
loop that ends without asserting lets the test go on to fail somewhere unrelated. These
helpers poll against a deadline and raise an `AssertionError` naming what was awaited, how
long, and what the condition last returned or raised.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, overload

T = TypeVar("T")
Message = str | Callable[[], str]

DEFAULT_INTERVAL = 0.05


def eventually(
    predicate: Callable[[], T | None],
    *,
    timeout: float,
    message: Message,
    interval: float = DEFAULT_INTERVAL,
) -> T:
    """Calls `predicate` until it returns something truthy, and returns that value.

    `message` (or a callable giving it, evaluated only on failure, e.g. to attach a log tail)
    says what was awaited. An exception from `predicate` counts as "not yet"; the last one is
    part of the failure.
    """
    deadline = time.monotonic() + timeout
    while True:
        value, error = _poll(predicate)
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(_failure(message, timeout, value, error)) from error
        time.sleep(interval)


@overload
async def eventually_async(
    predicate: Callable[[], Awaitable[T | None]],
    *,
    timeout: float,  # noqa: ASYNC109 - the same signature as `eventually`; a poll deadline
    message: Message,
    interval: float = DEFAULT_INTERVAL,
) -> T: ...


@overload
async def eventually_async(
    predicate: Callable[[], T | None],
    *,
    timeout: float,  # noqa: ASYNC109
    message: Message,
    interval: float = DEFAULT_INTERVAL,
) -> T: ...


async def eventually_async(
    predicate: Callable[[], Any],
    *,
    timeout: float,  # noqa: ASYNC109
    message: Message,
    interval: float = DEFAULT_INTERVAL,
) -> Any:
    """`eventually` for async tests: the predicate may be a coroutine function, and the wait
    yields to the event loop."""
    deadline = time.monotonic() + timeout
    while True:
        error: Exception | None = None
        value: Any = None
        try:
            result = predicate()
            value = await result if inspect.isawaitable(result) else result
        except Exception as exc:
            error = exc
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(_failure(message, timeout, value, error)) from error
        await asyncio.sleep(interval)


def _poll(predicate: Callable[[], T | None]) -> tuple[T | None, Exception | None]:
    try:
        return predicate(), None
    except Exception as exc:
        return None, exc


def _failure(message: Message, timeout: float, value: object, error: Exception | None) -> str:
    text = message() if callable(message) else message
    last = f"raised {type(error).__name__}: {error}" if error is not None else f"was {value!r}"
    return f"{text} (waited {timeout:g} s; the condition last {last})"
