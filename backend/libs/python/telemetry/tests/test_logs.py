"""JSON log lines: one object per line, joined to the current trace and execution."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace import TracerProvider

from stigmer_telemetry.logs import configure_logging, execution_scope


@pytest.fixture
def json_logs(capsys: pytest.CaptureFixture[str]) -> Iterator[pytest.CaptureFixture[str]]:
    """JSON logging to the captured stderr (configured in the test's own phase, where the
    captured stream is the one sys.stderr names), the root logger restored after."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        yield capsys
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


def lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, object]]:
    return [json.loads(line) for line in capsys.readouterr().err.strip().splitlines()]


def test_a_line_is_one_object_and_noisy_libraries_stay_quiet(
    json_logs: pytest.CaptureFixture[str],
) -> None:
    configure_logging("INFO", "json")
    logging.getLogger("agent_runner.test").info("turn %s done", "aex-1")
    logging.getLogger("aiosqlite").info("a checkpoint blob")
    (entry,) = lines(json_logs)
    assert entry["message"] == "turn aex-1 done"
    assert entry["logger"] == "agent_runner.test"
    assert entry["level"] == "INFO"
    assert "trace_id" not in entry
    assert "execution_id" not in entry


def test_a_line_names_the_current_span_and_execution(
    json_logs: pytest.CaptureFixture[str],
) -> None:
    configure_logging("INFO", "json")
    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("turn") as span, execution_scope("aex-7"):
        logging.getLogger("agent_runner.test").info("inside")
    logging.getLogger("agent_runner.test").info("after")
    inside, after = lines(json_logs)
    context = span.get_span_context()
    assert inside["trace_id"] == f"{context.trace_id:032x}"
    assert inside["span_id"] == f"{context.span_id:016x}"
    assert inside["execution_id"] == "aex-7"
    assert "trace_id" not in after
    assert "execution_id" not in after
