"""Prometheus `/metrics` over HTTP, on the address a service is configured with."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from threading import Thread
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, start_http_server

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class MetricsServer:
    """A running `/metrics` endpoint and the address it is bound to."""

    address: str
    _server: WSGIServer
    _thread: Thread

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def serve_metrics(address: str, registry: CollectorRegistry) -> MetricsServer:
    """Serve `registry` on `address` (host:port; port 0 picks a free one)."""
    host, _, port = address.rpartition(":")
    server, thread = start_http_server(int(port), addr=host, registry=registry)
    bound = f"{host}:{server.server_port}"
    logger.info("metrics on http://%s/metrics", bound)
    return MetricsServer(bound, server, thread)
