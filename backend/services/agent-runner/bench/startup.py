"""Start-up time of the agent-runner: process start until Temporal lists it as a poller.

Starts the real Temporal dev server and stigmer-server once, then the runner N times
(`python -m agent_runner`, the way supervisors start it) and prints each time and the
median. Results go to docs/benchmarks/agent-runner-startup.md by hand.

    .venv/bin/python backend/services/agent-runner/bench/startup.py [runs]
"""

from __future__ import annotations

import asyncio
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from stigmer_contracts import data_converter
from stigmer_testing._paths import temporal_cli
from stigmer_testing._runner import AgentRunnerProcess, runner_env, wait_polling
from stigmer_testing._server import start_stigmer_server


async def one_start(client: Client, env: dict[str, str], data_dir: Path) -> float:
    log_file = data_dir / "runner.log"
    with log_file.open("wb") as log:
        started = time.monotonic()
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "agent_runner", cwd=data_dir, env=env, stdout=log, stderr=log
        )
        runner = AgentRunnerProcess(
            process, data_dir, log_file, env["TEMPORAL_AGENT_EXECUTION_TASK_QUEUE"]
        )
        await wait_polling(client, runner)
        elapsed = time.monotonic() - started
        await runner.stop()
    return elapsed


async def main(runs: int) -> None:
    cli = temporal_cli()
    if cli is None:
        raise SystemExit("no Temporal CLI: run `make setup`")
    temporal = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(cli), ip="127.0.0.1", ui=False, data_converter=data_converter()
    )
    try:
        address = temporal.client.service_client.config.target_host
        async with start_stigmer_server(address) as server:
            times = []
            with tempfile.TemporaryDirectory() as root:
                data_dir = Path(root)
                env = runner_env(server, address, data_dir, {"LOG_LEVEL": "INFO"})
                for index in range(runs):
                    elapsed = await one_start(temporal.client, env, data_dir)
                    times.append(elapsed)
                    print(f"run {index + 1}: {elapsed:.3f} s")
        print(
            f"median {statistics.median(times):.3f} s, min {min(times):.3f} s, "
            f"max {max(times):.3f} s over {runs} runs ({platform.python_version()}, "
            f"{platform.machine()})"
        )
    finally:
        await temporal.shutdown()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 10))
    # grpc.aio's poller thread sometimes aborts the interpreter while it finalizes ("PyGILState
    # _Release: thread state must be current") after the loop is gone; the measurements are
    # printed by then, so leave without finalizing rather than report a crash.
    sys.stdout.flush()
    os._exit(0)
