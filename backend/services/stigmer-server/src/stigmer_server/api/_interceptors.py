"""Every RPC passes here: the API-key check, then the one mapping of errors to statuses."""

from __future__ import annotations

import hmac
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import grpc
from google.protobuf.message import DecodeError

from stigmer_server.api._wire import find_invalid_utf8
from stigmer_server.errors import StigmerError, grpc_code

logger = logging.getLogger(__name__)

# Probes and reflection clients must work without a key.
OPEN_PREFIXES: Final = (
    "/grpc.health.v1.Health/",
    "/grpc.reflection.v1alpha.ServerReflection/",
    "/grpc.reflection.v1.ServerReflection/",
)
UNAUTHENTICATED_MESSAGE: Final = (
    "a valid API key is required: send the metadata `authorization: Bearer <key>` "
    "(the key is missing or wrong)"
)

if TYPE_CHECKING:  # grpc's RpcMethodHandler is generic only in its stubs
    Continuation = Callable[
        [grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[Any, Any] | None]
    ]


class AuthInterceptor(grpc.aio.ServerInterceptor):
    def __init__(self, api_keys: tuple[str, ...]) -> None:
        self._keys = tuple(key.encode() for key in api_keys)

    async def intercept_service(
        self, continuation: Continuation, handler_call_details: grpc.HandlerCallDetails
    ) -> grpc.RpcMethodHandler[Any, Any]:
        handler = await continuation(handler_call_details)
        if handler is None or handler_call_details.method.startswith(OPEN_PREFIXES):
            return handler  # type: ignore[return-value]
        if self._accepts(handler_call_details.invocation_metadata):
            return handler
        logger.info("rejected %s: API key missing or wrong", handler_call_details.method)
        return _denied(handler)

    def _accepts(self, metadata: Any) -> bool:
        values = [value for key, value in metadata or () if key == "authorization"]
        if len(values) != 1 or not isinstance(values[0], str):
            return False
        scheme, _, presented = values[0].partition(" ")
        if scheme.lower() != "bearer":
            return False
        token = presented.strip().encode()
        # Compare with every key, without stopping early, so timing reveals nothing.
        matches = [hmac.compare_digest(token, key) for key in self._keys]
        return any(matches)


class ErrorInterceptor(grpc.aio.ServerInterceptor):
    """Domain errors become their status; undecodable requests name their bad field."""

    async def intercept_service(
        self, continuation: Continuation, handler_call_details: grpc.HandlerCallDetails
    ) -> grpc.RpcMethodHandler[Any, Any]:
        handler = await continuation(handler_call_details)
        if handler is None or handler_call_details.method.startswith(OPEN_PREFIXES):
            return handler  # type: ignore[return-value]
        method = handler_call_details.method
        deserializer = _tolerant(handler.request_deserializer)
        if handler.unary_unary is not None:
            return grpc.unary_unary_rpc_method_handler(
                _unary(handler.unary_unary, method),
                request_deserializer=deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream is not None:
            return grpc.unary_stream_rpc_method_handler(
                _streaming(handler.unary_stream, method),
                request_deserializer=deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.stream_unary is not None:
            return grpc.stream_unary_rpc_method_handler(
                _client_streaming(handler.stream_unary, method),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        return handler


@dataclass(frozen=True)
class _Undecodable:
    problem: str


def _tolerant(deserializer: Any) -> Callable[[bytes], Any]:
    def deserialize(data: bytes) -> Any:
        try:
            return deserializer(data)
        except DecodeError:
            message_type = getattr(deserializer, "__self__", None)
            descriptor = getattr(message_type, "DESCRIPTOR", None)
            field = find_invalid_utf8(descriptor, data) if descriptor is not None else None
            if field is not None:
                return _Undecodable(f"{field}: not valid UTF-8")
            return _Undecodable("request: not a valid protobuf message")

    return deserialize


async def _abort(
    context: grpc.aio.ServicerContext[Any, Any], error: BaseException, method: str
) -> None:
    if isinstance(error, StigmerError):
        await context.abort(grpc_code(error), str(error))
    logger.exception("unexpected error in %s", method, exc_info=error)
    await context.abort(grpc.StatusCode.INTERNAL, "internal error; the server log has the details")


def _unary(behavior: Any, method: str) -> Callable[..., Awaitable[Any]]:
    async def call(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        if isinstance(request, _Undecodable):
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, request.problem)
        try:
            return await behavior(request, context)
        except grpc.aio.AbortError:
            raise
        except Exception as error:
            await _abort(context, error, method)
            raise

    return call


def _streaming(behavior: Any, method: str) -> Callable[..., AsyncIterator[Any]]:
    async def call(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> AsyncIterator[Any]:
        if isinstance(request, _Undecodable):
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, request.problem)
        try:
            async for item in behavior(request, context):
                yield item
        except grpc.aio.AbortError:
            raise
        except Exception as error:
            await _abort(context, error, method)
            raise

    return call


def _client_streaming(behavior: Any, method: str) -> Callable[..., Awaitable[Any]]:
    async def call(requests: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        try:
            return await behavior(requests, context)
        except grpc.aio.AbortError:
            raise
        except DecodeError:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "request: not a valid message")
        except Exception as error:
            await _abort(context, error, method)
            raise

    return call


def _denied(handler: grpc.RpcMethodHandler[Any, Any]) -> grpc.RpcMethodHandler[Any, Any]:
    async def deny(_request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        await context.abort(grpc.StatusCode.UNAUTHENTICATED, UNAUTHENTICATED_MESSAGE)

    async def deny_stream(
        _request: Any, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[Any]:
        await context.abort(grpc.StatusCode.UNAUTHENTICATED, UNAUTHENTICATED_MESSAGE)
        yield  # type: ignore[unreachable]  # abort raises; the yield makes this a generator

    async def deny_client_stream(
        _requests: Any, context: grpc.aio.ServicerContext[Any, Any]
    ) -> Any:
        await context.abort(grpc.StatusCode.UNAUTHENTICATED, UNAUTHENTICATED_MESSAGE)

    # The request is never parsed: an unauthenticated caller's bytes are not looked at.
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
