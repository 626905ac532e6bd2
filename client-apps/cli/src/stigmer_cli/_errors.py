"""Errors the user can act on, and the one place gRPC failures become them."""

from __future__ import annotations

import grpc


class CliError(Exception):
    """A failure explained to the user: what went wrong and, when known, how to fix it."""

    def __init__(self, message: str, *, fix: str | None = None, exit_code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix
        self.exit_code = exit_code


def rpc_code(error: grpc.RpcError) -> grpc.StatusCode | None:
    """The status code of a failed call (every RpcError grpc raises is also a grpc.Call)."""
    code_of = getattr(error, "code", None)
    code = code_of() if callable(code_of) else None
    return code if isinstance(code, grpc.StatusCode) else None


def from_rpc_error(error: grpc.RpcError, *, address: str, action: str) -> CliError:
    """Classify a failed call once: unreachable server, bad key, or the server's own message."""
    code = rpc_code(error) or grpc.StatusCode.UNKNOWN
    details_of = getattr(error, "details", None)
    details = (details_of() if callable(details_of) else None) or code.name
    if code == grpc.StatusCode.UNAVAILABLE:
        return CliError(
            f"cannot reach the stigmer-server at {address} ({details})",
            fix="start the local system with `stigmer local up`, or set STIGMER_SERVER_ADDRESS",
        )
    if code == grpc.StatusCode.UNAUTHENTICATED:
        return CliError(
            f"the stigmer-server at {address} rejected the API key ({details})",
            fix="use the key of that server: STIGMER_API_KEY or --api-key",
        )
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return CliError(f"{action}: the server at {address} did not answer in time")
    return CliError(f"{action}: {details} ({code.name})")
