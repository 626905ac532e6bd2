"""The gate every RPC passes: who is calling (authentication), may it call this (the table).

The principal is set in a contextvar around the call's behaviour, so the services below can
ask `current_principal()` for the checks that depend on the request.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any, Final

import grpc

from stigmer_server.iam._keys import KeyRegistry
from stigmer_server.iam._secrets import masked
from stigmer_server.iam._table import TURN_CONTEXT, allowed
from stigmer_server.principal import Principal, Role, set_principal

logger = logging.getLogger(__name__)

# Probes and reflection clients must work without a key.
OPEN_PREFIXES: Final = (
    "/grpc.health.v1.Health/",
    "/grpc.reflection.v1alpha.ServerReflection/",
    "/grpc.reflection.v1.ServerReflection/",
)
UNAUTHENTICATED_MESSAGE: Final = (
    "a valid API key is required: send the metadata `authorization: Bearer <key>` "
    "(the key is missing, wrong or revoked)"
)

if TYPE_CHECKING:  # grpc's RpcMethodHandler is generic only in its stubs
    Continuation = Callable[
        [grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[Any, Any] | None]
    ]


class AuthGate(grpc.aio.ServerInterceptor):
    def __init__(self, registry: KeyRegistry) -> None:
        self._registry = registry

    async def intercept_service(
        self, continuation: Continuation, handler_call_details: grpc.HandlerCallDetails
    ) -> grpc.RpcMethodHandler[Any, Any]:
        handler = await continuation(handler_call_details)
        method = handler_call_details.method
        if handler is None or method.startswith(OPEN_PREFIXES):
            return handler  # type: ignore[return-value]
        token = _bearer(handler_call_details.invocation_metadata)
        principal = None if token is None else await self._registry.authenticate(token)
        if principal is None:
            logger.info("rejected %s: API key missing, wrong or revoked", method)
            return _refused(handler, grpc.StatusCode.UNAUTHENTICATED, UNAUTHENTICATED_MESSAGE)
        if not allowed(method, principal.role, acts_as_runner=principal.acts_as(Role.RUNNER)):
            logger.info("denied %s to key %s (%s)", method, principal.key_id, principal.role)
            message = (
                f"API key {principal.key_id!r} has role {principal.role.value!r}, "
                f"which may not call {method.rpartition('.')[2]}"
            )
            return _refused(handler, grpc.StatusCode.PERMISSION_DENIED, message)
        return _as(principal, handler, reveal=method == TURN_CONTEXT)


def _bearer(metadata: Any) -> str | None:
    values = [value for key, value in metadata or () if key == "authorization"]
    if len(values) != 1 or not isinstance(values[0], str):
        return None
    scheme, _, presented = values[0].partition(" ")
    if scheme.lower() != "bearer":
        return None
    return presented.strip() or None


def _as(
    principal: Principal, handler: grpc.RpcMethodHandler[Any, Any], *, reveal: bool
) -> grpc.RpcMethodHandler[Any, Any]:
    """The handler, with `principal` current while its behaviour runs.

    Each RPC runs in a task of its own, so the value set there is that call's alone.
    Every response has its secret values masked, whoever calls, except with `reveal`: the
    runner's turn-context read, the one path by which secrets leave the server.
    """
    shown: Callable[[Any], Any] = _same if reveal else masked
    if handler.unary_unary is not None:
        unary = handler.unary_unary

        async def call(request: Any, context: Any) -> Any:
            set_principal(principal)
            return shown(await unary(request, context))

        return grpc.unary_unary_rpc_method_handler(
            call,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
    if handler.unary_stream is not None:
        streaming: Any = handler.unary_stream

        async def stream(request: Any, context: Any) -> AsyncIterator[Any]:
            set_principal(principal)
            async for item in streaming(request, context):
                yield shown(item)

        return grpc.unary_stream_rpc_method_handler(
            stream,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
    if handler.stream_unary is not None:
        client_streaming = handler.stream_unary

        async def collect(requests: Any, context: Any) -> Any:
            set_principal(principal)
            return await client_streaming(requests, context)

        return grpc.stream_unary_rpc_method_handler(
            collect,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
    raise RuntimeError("stream-stream RPCs are not served")


def _same(response: Any) -> Any:
    return response


def _refused(
    handler: grpc.RpcMethodHandler[Any, Any], code: grpc.StatusCode, message: str
) -> grpc.RpcMethodHandler[Any, Any]:
    async def deny(_request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        await context.abort(code, message)

    async def deny_stream(
        _request: Any, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[Any]:
        await context.abort(code, message)
        yield  # type: ignore[unreachable]  # abort raises; the yield makes this a generator

    async def deny_client_stream(
        _requests: Any, context: grpc.aio.ServicerContext[Any, Any]
    ) -> Any:
        await context.abort(code, message)

    # The request is never parsed: a refused caller's bytes are not looked at.
    if handler.stream_unary is not None:
        return grpc.stream_unary_rpc_method_handler(
            deny_client_stream,
            request_deserializer=bytes,
            response_serializer=handler.response_serializer,
        )
    if handler.unary_stream is not None:
        return grpc.unary_stream_rpc_method_handler(
            deny_stream, request_deserializer=bytes, response_serializer=handler.response_serializer
        )
    return grpc.unary_unary_rpc_method_handler(
        deny, request_deserializer=bytes, response_serializer=handler.response_serializer
    )
