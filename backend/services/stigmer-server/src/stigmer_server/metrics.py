"""The server's Prometheus metrics, served on STIGMER_METRICS_ADDRESS when it is set.

Labels stay bounded (phases, results), never an id. Counters count what this replica
did; a dashboard sums the replicas.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from stigmer_server.storage import Store

logger = logging.getLogger(__name__)

_UPDATE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5)


class ServerMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.turns_created = Counter(
            "stigmer_server_turns_created", "Turns (executions) created", registry=r
        )
        self.turns_settled = Counter(
            "stigmer_server_turns_settled",
            "Turns settled by their workflow, by final phase",
            ["phase"],
            registry=r,
        )
        self.turns_waiting = Gauge(
            "stigmer_server_turns_waiting",
            "Turns waiting for an earlier turn of their session (as this replica last saw)",
            registry=r,
        )
        self.approval_decisions = Counter(
            "stigmer_server_approval_decisions",
            "Decisions recorded on tool calls waiting for approval, by decision and by who "
            "made them (a person, or a rule's timeout)",
            ["decision", "by"],
            registry=r,
        )
        self.status_updates = Counter(
            "stigmer_server_status_updates",
            "Status updates from runners, by whether they were applied",
            ["applied"],
            registry=r,
        )
        self.status_update_seconds = Histogram(
            "stigmer_server_status_update_duration_seconds",
            "Time to validate, merge and store one status update",
            buckets=_UPDATE_BUCKETS,
            registry=r,
        )
        self._waiting: set[str] = set()

    def waiting(self, execution_id: str, waits: bool) -> None:
        """Record whether a turn waits for its session now (and forget it once it does not)."""
        if waits:
            self._waiting.add(execution_id)
        else:
            self._waiting.discard(execution_id)
        self.turns_waiting.set(len(self._waiting))


METRICS = ServerMetrics()


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


class _Forward(Collector):
    def __init__(self, registry: CollectorRegistry) -> None:
        self._registry = registry

    def collect(self) -> Iterable[Metric]:
        return self._registry.collect()


def registry_for(store: Store) -> CollectorRegistry:
    """What /metrics serves: the process's metrics and this store's counters."""
    registry = CollectorRegistry(auto_describe=True)
    registry.register(StoreCollector(store))
    registry.register(_Forward(METRICS.registry))
    return registry
