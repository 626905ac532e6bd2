"""OpenTelemetry tracing, on only when the standard `OTEL_*` variables point at a collector.

Off (the default) nothing is set up: the API's no-op tracer makes every span a shared
non-recording object, and no interceptor is added to gRPC or Temporal. On, spans go to the
OTLP gRPC exporter in batches (a background thread), configured by the exporter's own
variables (`OTEL_EXPORTER_OTLP_ENDPOINT`, `..._TRACES_ENDPOINT`, `..._HEADERS`,
`..._INSECURE`). Attributes never hold message text, argument values or secrets.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from opentelemetry import trace
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from temporalio.client import Interceptor

_ENDPOINTS = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")

_provider: TracerProvider | None = None


def tracing_requested(env: Mapping[str, str] = os.environ) -> bool:
    """True when the environment names an OTLP endpoint and does not turn tracing off."""
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    if env.get("OTEL_TRACES_EXPORTER", "otlp").strip().lower() != "otlp":
        return False
    return any(env.get(name, "").strip() for name in _ENDPOINTS)


def configure_tracing(service_name: str) -> bool:
    """Install the global tracer provider when tracing is requested; True when it is on."""
    global _provider
    if _provider is not None:
        return True
    if not tracing_requested():
        return False
    # Imported only when on: the exporter pulls in a gRPC client of its own.
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

    attributes = {} if os.environ.get("OTEL_SERVICE_NAME") else {SERVICE_NAME: service_name}
    provider = TracerProvider(resource=Resource.create(attributes))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    _provider = provider
    return True


def tracing_enabled() -> bool:
    return _provider is not None


def shutdown_tracing() -> None:
    """Export what is buffered; call it once, on the way out."""
    if _provider is not None:
        _provider.shutdown()


def temporal_interceptors() -> list[Interceptor]:
    """The interceptors a Temporal client gets: Temporal's tracing one when tracing is on.

    Given to `Client.connect` only: its workers inherit it (given to a worker as well, it
    would record every workflow and activity span twice).
    """
    if _provider is None:
        return []
    from temporalio.contrib.opentelemetry import TracingInterceptor

    return [TracingInterceptor()]
