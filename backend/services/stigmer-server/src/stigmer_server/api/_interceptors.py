"""Every RPC passes here after the gate (iam): the one mapping of errors to statuses."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import grpc
from google.protobuf.message import DecodeError

from stigmer_server.api._wire import find_invalid_utf8
from stigmer_server.errors import StigmerError, grpc_code
from stigmer_server.iam import OPEN_PREFIXES

logger = logging.getLogger(__name__)

if TYPE_CHECKING:  # grpc's RpcMethodHandler is generic only in its stubs
    Continuation = Callable[
        [grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[Any, Any] | None]
    ]


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
