"""Observability end to end: a real local system exporting its spans to an OTLP receiver.

One demo turn (tool calls and a sub-agent) is run with the `stigmer` CLI, all four processes
tracing to the test's receiver; then the trace tree, both `/metrics` endpoints and the
runner's JSON log lines are checked against that turn.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from stigmer_testing import eventually, free_ports
from stigmer_testing.otlp import OtlpReceiver, ReceivedSpan

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

_SCRIPT = Path(sys.executable).parent / "stigmer"
STIGMER = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "stigmer_cli"]
REPO = Path(__file__).resolve().parents[3]
# A secret value of the demo's environment (examples/environments.yaml).
CANARY = b"demo-token-not-a-real-secret"


@dataclass(frozen=True)
class TracedTurn:
    home: Path
    receiver: OtlpReceiver
    execution: dict[str, object]
    metrics: dict[str, str]


def _stigmer(home: Path, receiver: OtlpReceiver, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("STIGMER_", "TEMPORAL_", "ANTHROPIC_", "OPENAI_", "OTEL_"))
    }
    env |= receiver.env() | {"STIGMER_HOME": str(home), "LOG_FORMAT": "json"}
    return subprocess.run(
        [*STIGMER, *args], env=env, capture_output=True, text=True, timeout=180, cwd=REPO
    )


@pytest.fixture(scope="module")
def turn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TracedTurn]:
    home = tmp_path_factory.mktemp("stigmer-otel-home")
    with OtlpReceiver() as receiver:
        ports = [str(p) for p in free_ports(3)]
        up = _stigmer(
            home,
            receiver,
            *("local", "up", "--temporal-port", ports[0], "--temporal-ui-port", ports[1]),
            *("--server-port", ports[2]),
        )
        assert up.returncode == 0, up.stdout + up.stderr
        try:
            applied = _stigmer(home, receiver, "apply", "-f", str(REPO / "examples"))
            assert applied.returncode == 0, applied.stdout + applied.stderr
            run = _stigmer(home, receiver, "run", "demo", "Look around please.", "-o", "json")
            assert run.returncode == 0, run.stdout + run.stderr
            settings = json.loads((home / "local-settings.json").read_text(encoding="utf-8"))
            metrics = {
                name: _scrape(settings[f"{name}_metrics_port"]) for name in ("server", "runner")
            }
            status = _stigmer(home, receiver, "local", "status")
            assert f"127.0.0.1:{settings['runner_metrics_port']}/metrics" in status.stdout
            yield TracedTurn(home, receiver, json.loads(run.stdout), metrics)
        finally:
            _stigmer(home, receiver, "local", "down")


def _scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text: str = response.read().decode()
        return text


def _turn_trace(turn: TracedTurn) -> list[ReceivedSpan]:
    """The spans of the trace the CLI's `stigmer run` started, once its tool spans are in."""

    def complete() -> list[ReceivedSpan] | None:
        spans = turn.receiver.spans()
        roots = [s for s in spans if s.service == "stigmer-cli" and s.name == "stigmer run"]
        if not roots:
            return None
        trace = [s for s in spans if s.trace_id == roots[0].trace_id]
        names = {s.name for s in trace}
        wanted = {"execute_tool execute", "execute_tool task", "stream"}
        return trace if wanted <= names else None

    return eventually(complete, timeout=60, message=lambda: _missing(turn))


def _missing(turn: TracedTurn) -> str:
    names = sorted({(s.service, s.name) for s in turn.receiver.spans()})
    return f"the turn's spans did not all arrive; received: {names}"


def _ancestors(span: ReceivedSpan, by_id: dict[str, ReceivedSpan]) -> list[ReceivedSpan]:
    chain = []
    while span.parent_span_id in by_id:
        span = by_id[span.parent_span_id]
        chain.append(span)
    return chain


def test_one_trace_runs_from_the_clis_call_to_each_tool_call(turn: TracedTurn) -> None:
    trace = _turn_trace(turn)
    by_id = {s.span_id: s for s in trace}
    services = {s.service for s in trace}
    assert {"stigmer-cli", "stigmer-server", "agent-runner"} <= services
    (root,) = [s for s in trace if not s.parent_span_id]
    assert root.name == "stigmer run"
    # Every span hangs from the CLI's root: the links are unbroken across the processes.
    assert all(_ancestors(s, by_id)[-1:] == [root] for s in trace if s is not root)
    calls = [s for s in trace if s.name.endswith("AgentExecutionCommandController/create")]
    client = next(s for s in calls if s.service == "stigmer-cli")
    create = next(s for s in calls if s.service == "stigmer-server")
    assert by_id[create.parent_span_id] is client
    activity = next(s for s in trace if s.name == "RunActivity:ExecuteGraphton")
    assert create in _ancestors(activity, by_id)
    for phase in ("resolve", "sandbox", "skills", "build agent", "stream"):
        span = next(s for s in trace if s.name == phase)
        assert by_id[span.parent_span_id] is activity, phase
    execute = next(s for s in trace if s.name == "execute_tool execute")
    assert execute.attributes["stigmer.tool.status"] == "completed"
    assert execute.attributes["stigmer.tool.exit_code"] == 0


def test_a_sub_agents_calls_nest_under_its_task_call(turn: TracedTurn) -> None:
    trace = _turn_trace(turn)
    by_id = {s.span_id: s for s in trace}
    task = next(s for s in trace if s.name == "execute_tool task")
    nested = [s for s in trace if task in _ancestors(s, by_id)]
    assert any(s.name == "chat scripted:demo" for s in nested)
    assert any(s.name == "execute_tool execute" for s in nested)  # the researcher's uname


def test_model_spans_carry_tokens_and_nothing_secret_is_exported(turn: TracedTurn) -> None:
    trace = _turn_trace(turn)
    chats = [s for s in trace if s.name.startswith("chat ")]
    assert chats
    assert all(s.attributes["gen_ai.usage.output_tokens"] > 0 for s in chats)
    assert all(s.attributes["gen_ai.usage.input_tokens"] > 0 for s in chats)
    assert CANARY not in turn.receiver.raw()


def test_the_metrics_of_both_services_moved(turn: TracedTurn) -> None:
    runner = _samples(turn.metrics["runner"])
    assert (
        runner[("stigmer_runner_turns_total", (("agent", "demo-agent"), ("outcome", "completed")))]
        >= 1
    )
    assert (
        runner[("stigmer_runner_tool_calls_total", (("status", "completed"), ("tool", "execute")))]
        >= 2
    )
    assert (
        sum(v for (name, _), v in runner.items() if name == "stigmer_runner_model_tokens_total") > 0
    )
    assert runner[("stigmer_runner_status_update_duration_seconds_count", ())] > 0
    assert runner[("stigmer_runner_max_concurrent_turns", ())] >= 1
    server = _samples(turn.metrics["server"])
    assert server[("stigmer_server_turns_created_total", ())] >= 1
    assert server[("stigmer_server_turns_settled_total", (("phase", "EXECUTION_COMPLETED"),))] >= 1
    assert server[("stigmer_server_status_updates_total", (("applied", "true"),))] > 0
    assert CANARY.decode() not in turn.metrics["runner"] + turn.metrics["server"]


def test_the_runners_log_lines_carry_the_turns_trace_and_execution(turn: TracedTurn) -> None:
    trace_id = _turn_trace(turn)[0].trace_id
    execution_id = turn.execution["metadata"]["id"]  # type: ignore[index]
    log = (turn.home / "logs" / "agent-runner.log").read_text(encoding="utf-8")
    entries = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    joined = [e for e in entries if e.get("trace_id") == trace_id]
    # EnsureThread works for the session, before any execution: only the turn's lines name it.
    turn_lines = [e for e in joined if e["logger"] == "agent_runner.turn"]
    assert turn_lines
    assert all(e["execution_id"] == execution_id for e in turn_lines)


def test_the_grafana_dashboard_queries_only_metrics_that_exist(turn: TracedTurn) -> None:
    dashboard = json.loads((REPO / "_ops" / "grafana" / "stigmer-dashboard.json").read_text())
    queried = {
        re.sub(r"_(bucket|total|count|sum)$", "", name)
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in re.findall(r"stigmer_[a-z_]+", target["expr"])
    }
    families = {
        family.name
        for text in turn.metrics.values()
        for family in text_string_to_metric_families(text)
    }
    assert queried
    assert queried <= families, sorted(queried - families)


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples
