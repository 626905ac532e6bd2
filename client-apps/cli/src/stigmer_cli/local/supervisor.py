"""The supervisor: a detached process that runs local mode's components and restarts crashes.

`stigmer local up` starts it as `python -m stigmer_cli.local.supervisor <data dir>`. It starts
Temporal, waits until Temporal answers, then starts the server and the runner. A component
that exits on its own is restarted with backoff up to MAX_RESTARTS times in a row; after that it is
recorded as failed. SIGTERM stops the components one after another (by process group, in
STOP_ORDER, each with its own stop grace) and then the supervisor.
Everything it does is recorded in local-state.json and logs/supervisor.log.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from stigmer_cli.local._apikey import ensure_api_key, ensure_secrets_key, read_api_key
from stigmer_cli.local._components import (
    RUNNER,
    SERVER,
    STOP_ORDER,
    TEMPORAL,
    TEMPORAL_NAMESPACE,
    ComponentSpec,
    build_specs,
)
from stigmer_cli.local._layout import Layout, LocalSettings
from stigmer_cli.local._procs import ProcessRecord, terminate
from stigmer_cli.local._readiness import temporal_problem
from stigmer_cli.local._state import ComponentState, LocalState, Phase, read_state, write_state

logger = logging.getLogger(__name__)

# Restarts in a row before a component is given up on; a run that lasted _STABLE_SECONDS
# resets the count, so a crash a day never adds up to a failure.
MAX_RESTARTS = 3
_BACKOFF_SECONDS = (1.0, 2.0, 4.0)
_TEMPORAL_WAIT_SECONDS = 60.0
_STABLE_SECONDS = 60.0


class Supervisor:
    def __init__(self, settings: LocalSettings, specs: dict[str, ComponentSpec]) -> None:
        self._layout = settings.layout
        self._specs = specs
        me = ProcessRecord.of(os.getpid()) or ProcessRecord(os.getpid(), "")
        self._state = LocalState(me.pid, me.start_time)
        self._stopping = asyncio.Event()
        self._lock = asyncio.Lock()
        self._running: dict[str, ProcessRecord] = {}
        # Set per component, in STOP_ORDER, once the supervisor is stopping.
        self._stop_now = {name: asyncio.Event() for name in specs}

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            loop.add_signal_handler(signum, self._stopping.set)
        for name, spec in self._specs.items():
            await self._record(
                ComponentState(name=name, address=spec.address, phase=Phase.STARTING)
            )
        tasks = {TEMPORAL: asyncio.create_task(self._keep_running(self._specs[TEMPORAL]))}
        if await self._wait_for_temporal():
            for name in (SERVER, RUNNER):
                tasks[name] = asyncio.create_task(self._keep_running(self._specs[name]))
        await self._stopping.wait()
        logger.info("stopping: %s", ", ".join(self._running))
        for name in STOP_ORDER:
            self._stop_now[name].set()
            if name in tasks:
                await tasks[name]
        logger.info("stopped")

    async def _wait_for_temporal(self) -> bool:
        address = self._specs[TEMPORAL].address
        deadline = asyncio.get_running_loop().time() + _TEMPORAL_WAIT_SECONDS
        problem: str | None = "not checked"
        while not self._stopping.is_set() and asyncio.get_running_loop().time() < deadline:
            problem = await temporal_problem(address, TEMPORAL_NAMESPACE)
            if problem is None:
                return True
            await asyncio.sleep(0.3)
        if self._stopping.is_set():
            return False
        message = f"Temporal did not become ready in {_TEMPORAL_WAIT_SECONDS:.0f}s: {problem}"
        logger.error("%s", message)
        for name in (SERVER, RUNNER):
            await self._record(
                ComponentState(
                    name=name,
                    address=self._specs[name].address,
                    phase=Phase.FAILED,
                    message="not started: " + message,
                )
            )
        return False

    async def _keep_running(self, spec: ComponentSpec) -> None:
        restarts = 0  # in total, as shown by `status`
        crashes = 0  # in a row: a run longer than _STABLE_SECONDS forgives earlier ones
        loop = asyncio.get_running_loop()
        while not self._stopping.is_set():
            process = await self._start(spec, restarts)
            started = loop.time()
            exit_code = await self._wait_or_stop(spec, process)
            if self._stopping.is_set():
                await self._record(self._state.components[spec.name], phase=Phase.STOPPED)
                return
            logger.warning("%s exited with code %s", spec.name, exit_code)
            crashes = 1 if loop.time() - started > _STABLE_SECONDS else crashes + 1
            if crashes > MAX_RESTARTS:
                message = (
                    f"exited with code {exit_code} after {restarts} restarts; "
                    f"see {self._layout.log_file(spec.name)}"
                )
                logger.error("%s failed: %s", spec.name, message)
                await self._record(
                    self._state.components[spec.name],
                    phase=Phase.FAILED,
                    last_exit_code=exit_code,
                    message=message,
                )
                return
            await self._record(
                self._state.components[spec.name],
                phase=Phase.RESTARTING,
                last_exit_code=exit_code,
                message=f"exited with code {exit_code}; restarting",
            )
            delay = _BACKOFF_SECONDS[min(crashes - 1, len(_BACKOFF_SECONDS) - 1)]
            restarts += 1
            try:
                await asyncio.wait_for(self._stopping.wait(), timeout=delay)
            except TimeoutError:
                continue

    async def _start(self, spec: ComponentSpec, restarts: int) -> asyncio.subprocess.Process:
        log_path = self._layout.log_file(spec.name)
        with log_path.open("ab") as log:
            # A session of its own: a terminal's Ctrl-C never reaches it, and stopping its
            # process group also stops whatever it spawned.
            process = await asyncio.create_subprocess_exec(
                *spec.argv,
                env=spec.env,
                cwd=str(self._layout.home),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,
            )
        record = ProcessRecord.of(process.pid) or ProcessRecord(process.pid, "")
        self._running[spec.name] = record
        logger.info("started %s (pid %d, restarts %d)", spec.name, process.pid, restarts)
        previous = self._state.components[spec.name]
        await self._record(
            previous,
            phase=Phase.RUNNING,
            pid=record.pid,
            start_time=record.start_time,
            restarts=restarts,
        )
        return process

    async def _wait_or_stop(self, spec: ComponentSpec, process: asyncio.subprocess.Process) -> int:
        exited = asyncio.create_task(process.wait())
        stopping = asyncio.create_task(self._stop_now[spec.name].wait())
        await asyncio.wait({exited, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if not exited.done():
            record = self._running[spec.name]
            logger.info("stopping %s (SIGKILL after %.0f s)", spec.name, spec.stop_grace)
            await asyncio.to_thread(terminate, record, grace=spec.stop_grace, group=True)
        code = await exited
        self._running.pop(spec.name, None)
        return code

    async def _record(self, component: ComponentState, **changes: Any) -> None:
        async with self._lock:
            updated = replace(component, **changes)
            self._state = self._state.with_component(updated)
            write_state(self._layout.state_file, self._state)


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit("usage: python -m stigmer_cli.local.supervisor <data dir>")
    layout = Layout(Path(sys.argv[1]))
    os.chdir(layout.home)
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    settings = LocalSettings.from_json(layout.settings_file.read_text(encoding="utf-8"))
    # A data directory made before runner keys existed gets its runner key here.
    runner_key = ensure_api_key(layout.runner_key_file)
    ensure_secrets_key(layout.secrets_key_file)
    specs = build_specs(settings, read_api_key(layout.api_key_file), runner_key=runner_key)
    if read_state(layout.state_file) is not None:
        logger.warning("replacing a stale %s", layout.state_file)
    asyncio.run(Supervisor(settings, specs).run())


if __name__ == "__main__":
    main()
