"""Errors classified once, at the activity boundary: retry or not, and under which type."""

from __future__ import annotations

import sys
from datetime import timedelta

import grpc
from grpc import aio
from temporalio.exceptions import ApplicationError

from stigmer_contracts import ERROR_INVALID_INPUT, ERROR_MODEL_REQUEST_REJECTED, ERROR_NOT_FOUND

ERROR_BACKEND = "BackendError"
ERROR_SANDBOX = "SandboxUnavailable"
ERROR_MODEL_UNAVAILABLE = "ModelUnavailable"
ERROR_TURN = "TurnFailed"
ERROR_MCP_SERVER = "McpServerUnavailable"

_INVALID_CODES = {grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.OUT_OF_RANGE}
# A provider may ask for minutes (Anthropic's SDK honours any value); a turn waits at most this.
RETRY_AFTER_CAP = timedelta(seconds=60)


class InvalidInputError(ValueError):
    """Input the runner checked and refused (an empty id, a bad variable name, a model
    string no provider serves): retrying cannot fix it, so the turn fails at once.

    Only this type is permanent. Any other ValueError comes from code we call (a provider's
    malformed JSON is a `JSONDecodeError`, a model's unparsable tool call an
    `OutputParserException`) and is retried like any failure we did not foresee. It is a
    ValueError so that code catching those (deepagents' tools do) still sees it as one.
    """


class SandboxStartError(RuntimeError):
    """The sandbox could not be created or reached; a retry may succeed."""


class McpServerUnavailable(RuntimeError):
    """An MCP server the agent uses could not be reached or started at the turn's start; a
    retry may succeed (a server that refused the runner's credentials is an InvalidInputError)."""


def _recursion_limit_hit(exc: BaseException) -> bool:
    # langgraph loads in the background after start-up; until it has, no graph has run.
    errors = sys.modules.get("langgraph.errors")
    return errors is not None and isinstance(exc, errors.GraphRecursionError)


def classify(exc: BaseException) -> ApplicationError:
    """The ApplicationError the workflow sees for `exc`, with an explicit retry decision."""
    if isinstance(exc, ApplicationError):
        return exc
    message = str(exc) or type(exc).__name__
    if isinstance(exc, aio.AioRpcError):
        code = exc.code()
        text = f"stigmer-server {code.name}: {exc.details()}"
        if code == grpc.StatusCode.NOT_FOUND:
            return ApplicationError(text, type=ERROR_NOT_FOUND, non_retryable=True)
        if code in _INVALID_CODES:
            return ApplicationError(text, type=ERROR_INVALID_INPUT, non_retryable=True)
        return ApplicationError(text, type=ERROR_BACKEND, non_retryable=False)
    if isinstance(exc, SandboxStartError):
        return ApplicationError(message, type=ERROR_SANDBOX, non_retryable=False)
    if isinstance(exc, McpServerUnavailable):
        return ApplicationError(message, type=ERROR_MCP_SERVER, non_retryable=False)
    if _is_daytona_error(exc):
        # A sandbox call that failed mid-turn: Daytona's statuses are not the model's.
        return ApplicationError(f"Daytona: {message}", type=ERROR_SANDBOX, non_retryable=False)
    if _recursion_limit_hit(exc):
        return ApplicationError(message, type=ERROR_INVALID_INPUT, non_retryable=True)
    if isinstance(exc, InvalidInputError):
        return ApplicationError(message, type=ERROR_INVALID_INPUT, non_retryable=True)
    status = getattr(exc, "status_code", None)
    if isinstance(status, int):
        # Provider SDKs (anthropic, openai) carry the HTTP status of the failed request.
        # Below 400: an error event inside a stream that began with 200 (Anthropic's
        # overloaded mid-stream, Ollama's -1): the request was fine, a retry may succeed.
        if status in (408, 409, 429) or status >= 500 or status < 400:
            return ApplicationError(
                f"model provider {status}: {message}",
                type=ERROR_MODEL_UNAVAILABLE,
                non_retryable=False,
                next_retry_delay=retry_after(exc),
            )
        return ApplicationError(
            f"model provider rejected the request ({status}): {message}",
            type=ERROR_MODEL_REQUEST_REJECTED,
            non_retryable=True,
        )
    return ApplicationError(
        f"{type(exc).__name__}: {message}", type=ERROR_TURN, non_retryable=False
    )


def _is_daytona_error(exc: BaseException) -> bool:
    errors = sys.modules.get("daytona.common.errors")
    return errors is not None and isinstance(exc, errors.DaytonaError)


def retry_after(exc: BaseException) -> timedelta | None:
    """The provider's `retry-after-ms`/`retry-after` (seconds), capped; None leaves the
    backoff to the retry policy. An HTTP-date form is rare enough to use the policy too."""
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if headers is None:
        return None
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        raw = headers.get(name)
        if raw is None:
            continue
        try:
            seconds = float(raw) * scale
        except ValueError:
            continue
        if seconds > 0:
            return min(timedelta(seconds=seconds), RETRY_AFTER_CAP)
    return None
