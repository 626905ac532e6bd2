"""Benchmark: what the runner's instrumentation costs per turn, tracing off and on.

The load benchmark's CPU figures move by more than a few percent between runs on a shared
machine, so this one measures the instrumentation alone, in one process, with the CPU clock:
the callbacks a turn's model and tool calls make (`agent_runner.observer.TurnObserver`: the
reference turn's two model calls of 100 streamed tokens and its tool call) plus the turn's
five phase spans. Off is the default (no `OTEL_*`: the API's no-op tracer); on installs the
SDK with its batching OTLP exporter sending to a receiver in this process, as a deployment
with a collector would. The result is set against the runner's CPU per turn from
docs/benchmarks/load.md and written to docs/benchmarks/tracing.md.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from langchain_core.messages import AIMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, LLMResult
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from agent_runner.observer import TurnObserver
from stigmer_testing.otlp import OtlpReceiver

ROOT = Path(__file__).resolve().parents[2]
TOKENS = 100
_WARM_UP = 20
_SAMPLES = 5
PHASES = ("resolve", "sandbox", "skills", "build agent", "stream")


def one_turn(tracer: trace.Tracer, tracing: bool) -> None:
    """The callbacks and spans of the reference turn: model call, tool call, model call."""
    with tracer.start_as_current_span("RunActivity:ExecuteGraphton"):
        for phase in PHASES[:-1]:
            # The phase's own work is not what is measured: only its span, started and ended.
            tracer.start_span(phase).end()
        with tracer.start_as_current_span(PHASES[-1]):
            observer = TurnObserver(tracing=tracing)
            graph = uuid.uuid4()
            observer.on_chain_start({}, {}, run_id=graph)
            _model_call(observer, graph, tokens=1)
            tool = uuid.uuid4()
            observer.on_tool_start({"name": "execute"}, "", run_id=tool, parent_run_id=graph)
            output = ToolMessage("bench\n[Command succeeded with exit code 0]", tool_call_id="c")
            observer.on_tool_end(output, run_id=tool)
            _model_call(observer, graph, tokens=TOKENS)
            observer.on_chain_end({}, run_id=graph)
            observer.close()


def _model_call(observer: TurnObserver, parent: uuid.UUID, *, tokens: int) -> None:
    run = uuid.uuid4()
    metadata = {"ls_provider": "openai", "ls_model_name": "gpt-bench"}
    observer.on_chat_model_start({}, [[]], run_id=run, parent_run_id=parent, metadata=metadata)
    for _ in range(tokens):
        observer.on_llm_new_token("tok ", run_id=run)
    message = AIMessage(
        "tok " * tokens,
        usage_metadata={"input_tokens": 500, "output_tokens": tokens, "total_tokens": 500},
    )
    observer.on_llm_end(LLMResult(generations=[[ChatGeneration(message=message)]]), run_id=run)


def cpu_per_turn(turns: int, tracing: bool, tracer: trace.Tracer) -> float:
    for _ in range(_WARM_UP):  # warm caches and the metric label children
        one_turn(tracer, tracing)
    samples = []
    for _ in range(_SAMPLES):
        started = time.process_time()
        for _ in range(turns):
            one_turn(tracer, tracing)
        samples.append((time.process_time() - started) / turns)
    return statistics.median(samples)


def runner_cpu_per_turn() -> float | None:
    """The runner's CPU per turn from the load benchmark's last report, if there is one."""
    report = ROOT / "docs" / "benchmarks" / "load.md"
    if not report.exists():
        return None
    for line in report.read_text(encoding="utf-8").splitlines():
        if line.startswith("| runner CPU per turn"):
            return float(line.split("|")[2].strip().split()[0])
    return None


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=200, help="synthetic turns per sample")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks" / "tracing.md")
    args = parser.parse_args(argv)
    off = cpu_per_turn(args.turns, False, trace.get_tracer("bench"))
    with OtlpReceiver() as receiver:
        exporter = OTLPSpanExporter(endpoint=receiver.endpoint, insecure=True)
        provider = TracerProvider(resource=Resource.create({"service.name": "bench"}))
        # A queue big enough for every span of the run: the synthetic turns come far faster
        # than real ones, and a dropped span would be export work left out of the figure.
        provider.add_span_processor(BatchSpanProcessor(exporter, max_queue_size=1_000_000))
        trace.set_tracer_provider(provider)
        started = time.process_time()
        cpu_per_turn(args.turns, True, trace.get_tracer("bench"))
        provider.shutdown()  # the export of what is still queued counts too
        # All of it over every turn of the phase: the exporter's thread works after the
        # samples, and the receiver's decoding (same process) makes this an upper bound.
        on = (time.process_time() - started) / (_WARM_UP + _SAMPLES * args.turns)
        exported = len(receiver.spans())
    runner = runner_cpu_per_turn()
    print(write(args.out, off, on, runner, exported, args.turns))
    return 0


def write(out: Path, off: float, on: float, runner: float | None, exported: int, n: int) -> str:
    def share(seconds: float) -> str:
        return f"{seconds / runner:.1%} of the runner's {runner:.3f} s" if runner else "n/a"

    table = "\n".join(
        [
            "| tracing | instrumentation CPU per turn | share of a turn's runner CPU | target |",
            "|---|---|---|---|",
            f"| off (default) | {off * 1000:.2f} ms | {share(off)} | < 2% |",
            f"| on (OTLP export) | {on * 1000:.2f} ms | {share(on)} | < 10% |",
        ]
    )
    text = "\n".join(
        [
            "# Tracing: what the instrumentation costs a turn",
            "",
            "`tools/bench/bench_tracing.py` (run by `make bench`), in one process, CPU clock:",
            "the reference turn's callbacks (two model calls, 1 and 100 streamed tokens, one",
            "tool call) through `agent_runner.observer.TurnObserver`, plus the turn's phase",
            "spans, median of 5 samples of the mean over many turns. Off: no `OTEL_*`, the",
            "API's no-op tracer (metrics are still updated: they are always on). On: the SDK",
            "with its batching OTLP exporter sending to a receiver in this process, all CPU of",
            "the phase (exporter thread and the receiver's decoding included: an upper bound)",
            "over its turns. The share",
            "is against the runner's CPU per turn in `load.md` (the whole turn on real",
            "processes, which also carries the gRPC and Temporal interceptors when on).",
            "",
            f"- date: {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}",
            f"- machine: {platform.machine()}, Python {platform.python_version()}",
            f"- synthetic turns per sample: {n}; spans exported while on: {exported}",
            "",
            table,
            "",
        ]
    )
    out.write_text(text, encoding="utf-8")
    return table


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
