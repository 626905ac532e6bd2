"""Client spans for the CLI's gRPC calls, their context sent along in the call's metadata.

opentelemetry-instrumentation-grpc's sync client interceptor hands a server stream back as a
plain generator, which has no `cancel()`: the live view needs it to drop its watcher at once
(on Ctrl-C, or to reconnect). This interceptor keeps the call object grpc returns and only
adds a span and the `traceparent` header; it is installed only with tracing on.
"""

from __future__ import annotations

from typing import Any

import grpc
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode

_tracer = trace.get_tracer("stigmer_cli")


class TracingInterceptor(grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor):
    def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        span, details = self._start(details)
        try:
            outcome = continuation(details, request)
        except BaseException:
            span.end()
            raise
        self._end_when_done(span, outcome)
        return outcome

    def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        span, details = self._start(details)
        try:
            call = continuation(details, request)
        except BaseException:
            span.end()
            raise
        self._end_when_done(span, call)
        return call

    @staticmethod
    def _start(details: Any) -> tuple[trace.Span, Any]:
        method = str(details.method)
        span = _tracer.start_span(method.lstrip("/"), kind=SpanKind.CLIENT)
        service, _, name = method.lstrip("/").partition("/")
        span.set_attribute("rpc.system", "grpc")
        span.set_attribute("rpc.service", service)
        span.set_attribute("rpc.method", name)
        carrier: dict[str, str] = {}
        propagate.inject(carrier, context=trace.set_span_in_context(span))
        metadata = [*(details.metadata or ()), *carrier.items()]
        return span, details._replace(metadata=metadata)

    @staticmethod
    def _end_when_done(span: trace.Span, call: Any) -> None:
        def done(finished: Any) -> None:
            code = finished.code()
            span.set_attribute("rpc.grpc.status_code", code.value[0] if code else 0)
            if code not in (None, grpc.StatusCode.OK):
                span.set_status(Status(StatusCode.ERROR, code.name))
            span.end()

        # Called at once for a call that already ended (a unary call, by the time it returns).
        call.add_done_callback(done)
