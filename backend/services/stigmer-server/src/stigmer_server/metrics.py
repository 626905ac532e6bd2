"""The server's Prometheus metrics, served on STIGMER_METRICS_ADDRESS when it is set."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from threading import Thread
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

from stigmer_server.storage import Store

logger = logging.getLogger(__name__)


class StoreCollector(Collector):
    """Reads the store's counters at scrape time (nothing is added on the write path)."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def collect(self) -> Iterator[CounterMetricFamily]:
        written = CounterMetricFamily(
            "stigmer_db_payload_bytes_written",
            "Bytes of resource and execution-log payloads written to the database",
        )
        written.add_metric([], float(self._store.bytes_written))
        yield written


def registry_for(store: Store) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=True)
    registry.register(StoreCollector(store))
    return registry


def serve_metrics(address: str, registry: CollectorRegistry) -> tuple[WSGIServer, Thread, str]:
    """Start /metrics on `address` (host:port, port 0 picks one); returns the bound address."""
    host, _, port = address.rpartition(":")
    server, thread = start_http_server(int(port), addr=host, registry=registry)
    bound = f"{host}:{server.server_port}"
    logger.info("metrics on http://%s/metrics", bound)
    return server, thread, bound
