"""The runner's integration fixtures; the helpers live in runner_world.py."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from stigmer_testing._server import StigmerServer

sys.path.insert(0, str(Path(__file__).resolve().parent))
from runner_world import World


@pytest.fixture
async def world_for() -> AsyncIterator[Any]:
    """`world_for(server)`: a World on its own channel, closed at teardown."""
    channels: list[grpc.aio.Channel] = []

    def make(server: StigmerServer) -> World:
        channel = grpc.aio.insecure_channel(server.address)
        channels.append(channel)
        return World(channel, server)

    yield make
    for channel in channels:
        await channel.close()
