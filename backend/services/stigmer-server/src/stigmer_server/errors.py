"""Domain errors: raised anywhere in the server, mapped to a gRPC status in one place.

Each error names the field or the resource it is about, so a client can tell what to fix.
The mapping lives in `grpc_code`; `api._interceptors` applies it to every RPC.
"""

from __future__ import annotations

import grpc


class StigmerError(Exception):
    """An expected failure of a request; its message is safe to send to the client."""

    code: grpc.StatusCode = grpc.StatusCode.INTERNAL


class InvalidArgument(StigmerError):
    code = grpc.StatusCode.INVALID_ARGUMENT

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field


class NotFound(StigmerError):
    code = grpc.StatusCode.NOT_FOUND

    def __init__(self, kind: str, key: str, *, field: str | None = None) -> None:
        where = f"{field}: " if field else ""
        super().__init__(f"{where}{kind} {key!r} not found")
        self.kind = kind
        self.key = key


class AlreadyExists(StigmerError):
    code = grpc.StatusCode.ALREADY_EXISTS


class PermissionDenied(StigmerError):
    """The caller is known but its role (or the field it set) does not allow this call."""

    code = grpc.StatusCode.PERMISSION_DENIED


class Conflict(StigmerError):
    """Optimistic concurrency: the client's `metadata.version` is not the stored one."""

    code = grpc.StatusCode.ABORTED


class FailedPrecondition(StigmerError):
    code = grpc.StatusCode.FAILED_PRECONDITION


class Unavailable(StigmerError):
    code = grpc.StatusCode.UNAVAILABLE


def grpc_code(error: StigmerError) -> grpc.StatusCode:
    """The status code a domain error travels as."""
    return error.code
