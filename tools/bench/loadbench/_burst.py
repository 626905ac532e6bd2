"""The measurement: a warm-up turn, a lone turn, then N turns at once, each in a session of
its own, with the processes' /proc counters read around the burst."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from dataclasses import dataclass
from pathlib import Path

import grpc

from ai.stigmer.agentic.agentexecution.v1.enum_pb2 import ExecutionPhase
from loadbench._api import Api, Created, wait_workflow
from loadbench._processes import Topology
from loadbench._procstat import Counters, counters, machine_busy_seconds
from loadbench._profile import Profile, Recorder
from loadbench._tokens import ChunkClock, Sightings, latencies, reply_text, turn_message, watch
from stigmer_testing.fakes import Reply, ToolCall

_TURN_TIMEOUT = 900.0


@dataclass(frozen=True)
class Settings:
    turns: int
    watchers: int
    tokens: int
    profile_dir: Path | None  # record py-spy profiles there during the burst
    top: int


@dataclass(frozen=True)
class Turn:
    created: Created
    seconds: float  # from the first create RPC to the stored completed_at
    ended: float  # wall clock of the stored completed_at
    started: float  # wall clock of the stored started_at (the runner took the turn); 0 if unset
    model: tuple[float, float] | None  # wall clock: the fake's first and last reply part
    phase: str
    status_bytes: int  # the final stored status, serialized
    changes: int  # the final sequence: how many numbered changes the server stored


@dataclass(frozen=True)
class Usage:
    """One role's counters over the burst."""

    cpu_seconds: float
    write_bytes: int


@dataclass(frozen=True)
class Results:
    warmup: Turn
    lone: Turn
    lone_tokens: tuple[list[float], list[float]]  # (shown, stored) latencies, seconds
    burst: list[Turn]
    burst_tokens: tuple[list[float], list[float]]
    usage: dict[str, Usage]  # server, runner, temporal, database, bench
    server_log_bytes: int  # the server's log growth, taken out of its write_bytes
    payload_bytes: int  # the server's logical database writes over the burst
    machine_busy: float  # CPU seconds the whole machine was busy during the burst
    burst_streams: list[float]  # the fake's first-to-last text chunk, per burst turn
    profiles: list[Profile]


async def run(topology: Topology, settings: Settings) -> Results:
    clock = ChunkClock()
    topology.fake.part_listener = clock
    topology.fake.set_replies(
        [
            Reply(tool_calls=(ToolCall("execute", {"command": "echo bench"}),)),
            Reply(text=reply_text(settings.tokens)),
        ]
    )
    async with grpc.aio.insecure_channel(topology.server.address) as channel:
        api = Api(channel, topology.server)
        instance = await api.instance(
            "openai:gpt-bench",
            {"OPENAI_API_KEY": topology.fake.api_key or ""},
            {"OPENAI_BASE_URL": topology.fake.url + "/v1"},
        )
        # The first turn pays for imports and first-use caches; the lone turn is the next.
        warmup, _ = await _one_turn(api, topology, clock, instance, "W0", watched=False)
        lone, lone_seen = await _one_turn(api, topology, clock, instance, "L0", watched=True)
        lone_tokens = _token_latencies(clock, {"L0": lone_seen})
        before, log_before = _snapshot(topology), _log_size(topology)
        payload_before = await asyncio.to_thread(topology.payload_bytes)
        busy_before = machine_busy_seconds()
        recorders = [
            Recorder("server", topology.server.pid, settings.profile_dir),
            Recorder("runner", topology.runner.pid, settings.profile_dir),
        ] if settings.profile_dir else []  # fmt: skip
        for recorder in recorders:
            await recorder.start()
        created, seen = await _burst(api, topology, instance, settings)
        after, log_after = _snapshot(topology), _log_size(topology)
        payload = await asyncio.to_thread(topology.payload_bytes) - payload_before
        busy = machine_busy_seconds() - busy_before
        profiles = [await r.stop(settings.top) for r in recorders]
        # Read after the counters: these requests are not part of the turns' cost.
        burst = [await _finished(api, clock, f"B{i}", c) for i, c in enumerate(created)]
        usage = {
            role: Usage(after[role].cpu_seconds - before[role].cpu_seconds,
                        after[role].write_bytes - before[role].write_bytes)
            for role in before
        }  # fmt: skip
        return Results(
            warmup=warmup,
            lone=lone,
            lone_tokens=lone_tokens,
            burst=burst,
            burst_tokens=_token_latencies(clock, seen),
            usage=usage,
            server_log_bytes=log_after - log_before,
            payload_bytes=payload,
            machine_busy=busy,
            burst_streams=clock.stream_seconds("B"),
            profiles=profiles,
        )


async def _one_turn(
    api: Api, topology: Topology, clock: ChunkClock, instance: str, key: str, *, watched: bool
) -> tuple[Turn, Sightings]:
    created = await api.start_turn(instance, turn_message(key))
    watcher = asyncio.create_task(watch(api, created.execution_id)) if watched else None
    await wait_workflow(topology.temporal, created.execution_id, within=_TURN_TIMEOUT)
    seen = await watcher if watcher else Sightings()
    return await _finished(api, clock, key, created), seen


async def _burst(
    api: Api, topology: Topology, instance: str, settings: Settings
) -> tuple[list[Created], dict[str, Sightings]]:
    seen: dict[str, Sightings] = {}

    async def turn(index: int) -> Created:
        key = f"B{index}"
        created = await api.start_turn(instance, turn_message(key))
        watcher = None
        if index < settings.watchers:
            watcher = asyncio.create_task(watch(api, created.execution_id))
        await wait_workflow(topology.temporal, created.execution_id, within=_TURN_TIMEOUT)
        if watcher is not None:
            seen[key] = await watcher
        return created

    created = await asyncio.gather(*(turn(index) for index in range(settings.turns)))
    return list(created), seen


async def _finished(api: Api, clock: ChunkClock, key: str, created: Created) -> Turn:
    execution = await api.get(created.execution_id)
    status = execution.status
    ended = status.completed_at.ToDatetime().timestamp() if status.HasField("completed_at") else 0
    if not ended:
        ended = time.time()  # a turn that never completed: count it as ending now
    started = status.started_at.ToDatetime().timestamp() if status.HasField("started_at") else 0
    return Turn(
        created=created,
        seconds=ended - created.began,
        ended=ended,
        started=started,
        model=clock.parts(key),
        phase=ExecutionPhase.Name(status.phase),
        status_bytes=status.ByteSize(),
        changes=status.sequence,
    )


def _token_latencies(
    clock: ChunkClock, seen: dict[str, Sightings]
) -> tuple[list[float], list[float]]:
    shown: list[float] = []
    stored: list[float] = []
    for key, sightings in seen.items():
        sent = clock.sent(key)
        shown += latencies(sent, sightings.shown)
        stored += latencies(sent, sightings.stored)
    return shown, stored


def _snapshot(topology: Topology) -> dict[str, Counters]:
    pids = {
        "server": [topology.server.pid],
        "runner": [topology.runner.pid],
        "temporal": [topology.temporal_pid],
        "database": topology.database_pids(),
        "bench": [os.getpid()],
    }
    return {role: counters(found) for role, found in pids.items()}


def _log_size(topology: Topology) -> int:
    with contextlib.suppress(FileNotFoundError):
        return topology.server.log_file.stat().st_size
    return 0
