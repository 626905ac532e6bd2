"""Every gRPC service over Connect, through the gRPC server's own interceptors.

The gRPC server is the one source of what is served: `ServiceRecorder` stands in for it
while the servicers are added and keeps each service's method handlers. `ConnectBridge`
turns those into Connect endpoints. Each call runs the same interceptor chain the gRPC
server runs (the auth gate with its principal and secret masking, then the error mapping),
on the same handler, with a context whose `abort` raises the matching ConnectError. So a
key, a role and an error message mean the same on both protocols.

One difference, on purpose: over HTTP every response has its secret values masked, whoever
calls. Browsers and curl are never the runner, which reads secrets over gRPC only; a
bootstrap admin key (which may act as the runner on gRPC) signs in to the console too.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from typing import Any, NamedTuple, NoReturn

import grpc
from connectrpc.code import Code
from connectrpc.errors import ConnectError
from connectrpc.method import IdempotencyLevel, MethodInfo, StreamType
from connectrpc.request import RequestContext
from connectrpc.server import Endpoint
from google.protobuf import descriptor_pool, message_factory
from google.protobuf.descriptor import MethodDescriptor
from google.protobuf.descriptor_pb2 import MethodOptions

from stigmer_server.iam import masked

logger = logging.getLogger(__name__)


class ServiceRecorder:
    """Passes servicer registration on to the gRPC server and keeps the method handlers."""

    def __init__(self, server: grpc.aio.Server) -> None:
        self._server = server
        self.services: dict[str, dict[str, Any]] = {}

    def add_generic_rpc_handlers(self, handlers: Sequence[grpc.GenericRpcHandler]) -> None:
        self._server.add_generic_rpc_handlers(handlers)

    def add_registered_method_handlers(self, service: str, handlers: Mapping[str, Any]) -> None:
        self.services[service] = dict(handlers)
        self._server.add_registered_method_handlers(service, handlers)


class _CallDetails(NamedTuple):
    # The two attributes grpc.HandlerCallDetails has; interceptors read only these.
    method: str
    invocation_metadata: tuple[tuple[str, str], ...]


class _Aborted(ConnectError, grpc.aio.AbortError):
    """`context.abort` on Connect: a ConnectError the gRPC interceptors let through as an abort."""


# gRPC spells one code differently; the others share their names.
_CODES = {code: Code[code.name] for code in grpc.StatusCode if code.name in Code.__members__}
_CODES[grpc.StatusCode.CANCELLED] = Code.CANCELED


class _Context:
    """The part of grpc.aio.ServicerContext the interceptors and servicers use."""

    def __init__(self, ctx: RequestContext[Any, Any], metadata: tuple[tuple[str, str], ...]):
        self._ctx = ctx
        self._metadata = metadata

    def invocation_metadata(self) -> tuple[tuple[str, str], ...]:
        return self._metadata

    async def abort(
        self, code: grpc.StatusCode, details: str = "", trailing_metadata: Any = ()
    ) -> NoReturn:
        raise _Aborted(_CODES.get(code, Code.UNKNOWN), details)

    def peer(self) -> str:
        return self._ctx.client_address or ""

    def time_remaining(self) -> float | None:
        timeout_ms = self._ctx.timeout_ms
        return None if timeout_ms is None else timeout_ms / 1000


Continuation = Callable[[Any], Awaitable[Any]]


class ConnectBridge:
    """Connect endpoints for the recorded services, each call through `interceptors`."""

    def __init__(
        self,
        services: Mapping[str, Mapping[str, Any]],
        interceptors: Sequence[grpc.aio.ServerInterceptor],
    ) -> None:
        self._services = services
        self._interceptors = list(interceptors)

    @property
    def service_names(self) -> list[str]:
        return sorted(self._services)

    def endpoints(self) -> dict[str, Any]:
        """URL path (`/<service>/<method>`, the proto names) -> Connect endpoint."""
        pool = descriptor_pool.Default()
        found: dict[str, Any] = {}
        for service_name, handlers in self._services.items():
            service = pool.FindServiceByName(service_name)
            for method in service.methods:
                path = f"/{service_name}/{method.name}"
                found[path] = self._endpoint(path, method, handlers[method.name])
        return found

    def _endpoint(self, path: str, method: MethodDescriptor, handler: Any) -> Any:
        info = MethodInfo(
            name=method.name,
            service_name=method.containing_service.full_name,
            input=message_factory.GetMessageClass(method.input_type),
            output=message_factory.GetMessageClass(method.output_type),
            idempotency_level=_idempotency(method),
            stream_type=_stream_type(method),
        )
        if info.stream_type is StreamType.SERVER_STREAM:
            return Endpoint.server_stream(info, self._server_stream(path, handler))
        if info.stream_type is StreamType.CLIENT_STREAM:
            return Endpoint.client_stream(info, self._client_stream(path, handler))
        if info.stream_type is StreamType.UNARY:
            return Endpoint.unary(info, self._unary(path, handler))
        raise ValueError(f"{path}: bidirectional streams are not served over Connect")

    async def _intercepted(self, path: str, handler: Any, ctx: RequestContext[Any, Any]) -> Any:
        """The handler as the gRPC server would run it for this call, and its context."""
        metadata = tuple((key.lower(), value) for key, value in ctx.request_headers.items())

        async def innermost(_details: Any) -> Any:
            return handler

        chain: Continuation = innermost
        for interceptor in reversed(self._interceptors):
            chain = _wrap(interceptor, chain)
        return await chain(_CallDetails(path, metadata)), _Context(ctx, metadata)

    def _unary(self, path: str, handler: Any) -> Callable[..., Awaitable[Any]]:
        async def call(request: Any, ctx: RequestContext[Any, Any]) -> Any:
            final, context = await self._intercepted(path, handler, ctx)
            with _guarded(path):
                return masked(await final.unary_unary(request, context))

        return call

    def _server_stream(self, path: str, handler: Any) -> Callable[..., AsyncIterator[Any]]:
        async def call(request: Any, ctx: RequestContext[Any, Any]) -> AsyncIterator[Any]:
            final, context = await self._intercepted(path, handler, ctx)
            with _guarded(path):
                async for item in final.unary_stream(request, context):
                    yield masked(item)

        return call

    def _client_stream(self, path: str, handler: Any) -> Callable[..., Awaitable[Any]]:
        async def call(requests: AsyncIterator[Any], ctx: RequestContext[Any, Any]) -> Any:
            final, context = await self._intercepted(path, handler, ctx)
            with _guarded(path):
                return masked(await final.stream_unary(requests, context))

        return call


def _wrap(interceptor: grpc.aio.ServerInterceptor, inner: Continuation) -> Continuation:
    async def run(details: Any) -> Any:
        return await interceptor.intercept_service(inner, details)

    return run


@contextlib.contextmanager
def _guarded(path: str) -> Iterator[None]:
    """Anything but a ConnectError escaping the chain becomes a bare INTERNAL, never its text."""
    try:
        yield
    except ConnectError:
        raise
    except Exception as error:
        logger.error("unexpected error in %s", path, exc_info=error)
        message = "internal error; the server log has the details"
        raise ConnectError(Code.INTERNAL, message) from None


def _idempotency(method: MethodDescriptor) -> IdempotencyLevel:
    level = method.GetOptions().idempotency_level
    if level == MethodOptions.NO_SIDE_EFFECTS:
        return IdempotencyLevel.NO_SIDE_EFFECTS
    if level == MethodOptions.IDEMPOTENT:
        return IdempotencyLevel.IDEMPOTENT
    return IdempotencyLevel.UNKNOWN


def _stream_type(method: MethodDescriptor) -> StreamType:
    if method.client_streaming and method.server_streaming:
        return StreamType.BIDI_STREAM
    if method.client_streaming:
        return StreamType.CLIENT_STREAM
    if method.server_streaming:
        return StreamType.SERVER_STREAM
    return StreamType.UNARY
