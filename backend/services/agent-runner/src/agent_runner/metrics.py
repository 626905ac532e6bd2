"""The runner's Prometheus metrics (docs/guides/observability.md says what each means).

Labels stay bounded: agent slugs, model strings, tool names, phases and outcomes, never an
id. One registry per process, served on AGENT_RUNNER_METRICS_ADDRESS when it is set; the
metrics are updated whether or not anyone scrapes them (a counter increment is cheap).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

# A turn runs seconds to hours; a model call, tens of milliseconds to minutes.
_TURN_BUCKETS = (0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 1800, 3600)
_CALL_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
_UPDATE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5)
_BATCH_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200)


class RunnerMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        r = self.registry
        self.turns = Counter(
            "stigmer_runner_turns",
            "Turn attempts ended on this runner, by agent and outcome",
            ["agent", "outcome"],
            registry=r,
        )
        self.turn_seconds = Histogram(
            "stigmer_runner_turn_duration_seconds",
            "Time of one turn attempt on this runner, by outcome",
            ["outcome"],
            buckets=_TURN_BUCKETS,
            registry=r,
        )
        self.turns_running = Gauge(
            "stigmer_runner_turns_running", "Turns running now (concurrency in use)", registry=r
        )
        self.max_turns = Gauge(
            "stigmer_runner_max_concurrent_turns",
            "Turns this runner runs at once at most",
            registry=r,
        )
        self.model_call_seconds = Histogram(
            "stigmer_runner_model_call_duration_seconds",
            "Time of one model call, by model",
            ["model"],
            buckets=_CALL_BUCKETS,
            registry=r,
        )
        self.time_to_first_token = Histogram(
            "stigmer_runner_model_time_to_first_token_seconds",
            "Time from a streamed model call's start to its first token, by model",
            ["model"],
            buckets=_CALL_BUCKETS,
            registry=r,
        )
        self.tokens = Counter(
            "stigmer_runner_model_tokens",
            "Tokens the models reported, by model and kind (input, output)",
            ["model", "kind"],
            registry=r,
        )
        self.tool_calls = Counter(
            "stigmer_runner_tool_calls",
            "Tool calls ended, by tool and status (completed, failed)",
            ["tool", "status"],
            registry=r,
        )
        self.status_update_seconds = Histogram(
            "stigmer_runner_status_update_duration_seconds",
            "Time of one status update call to the server",
            buckets=_UPDATE_BUCKETS,
            registry=r,
        )
        self.status_update_events = Histogram(
            "stigmer_runner_status_update_batch_events",
            "Stream events folded into one status update",
            buckets=_BATCH_BUCKETS,
            registry=r,
        )
        self.sandboxes = Gauge(
            "stigmer_runner_sandboxes_alive",
            "Sandboxes this runner's owner label marks as ours, at the last reaper pass",
            ["backend"],
            registry=r,
        )


# The process's metrics: the activities, the status publisher and the reaper update these.
METRICS = RunnerMetrics()
