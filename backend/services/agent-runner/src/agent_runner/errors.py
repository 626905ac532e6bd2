"""Errors classified once, at the activity boundary: retry or not, and under which type."""

from __future__ import annotations

import sys

import grpc
from grpc import aio
from temporalio.exceptions import ApplicationError

from stigmer_contracts import ERROR_INVALID_INPUT, ERROR_MODEL_REQUEST_REJECTED, ERROR_NOT_FOUND

ERROR_BACKEND = "BackendError"
ERROR_SANDBOX = "SandboxUnavailable"
ERROR_MODEL_UNAVAILABLE = "ModelUnavailable"
ERROR_TURN = "TurnFailed"

_INVALID_CODES = {grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.OUT_OF_RANGE}


class SandboxStartError(RuntimeError):
    """The sandbox could not be created or reached; a retry may succeed."""


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
    if _recursion_limit_hit(exc):
        return ApplicationError(message, type=ERROR_INVALID_INPUT, non_retryable=True)
    if isinstance(exc, ValueError):
        return ApplicationError(message, type=ERROR_INVALID_INPUT, non_retryable=True)
    status = getattr(exc, "status_code", None)
    if isinstance(status, int):
        # Provider SDKs (anthropic, openai) carry the HTTP status of the failed request.
        if status == 429 or status >= 500:
            return ApplicationError(
                f"model provider {status}: {message}", type=ERROR_MODEL_UNAVAILABLE
            )
        return ApplicationError(
            f"model provider rejected the request ({status}): {message}",
            type=ERROR_MODEL_REQUEST_REJECTED,
            non_retryable=True,
        )
    return ApplicationError(
        f"{type(exc).__name__}: {message}", type=ERROR_TURN, non_retryable=False
    )
