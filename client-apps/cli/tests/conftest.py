"""The CLI end-to-end fixtures: each test module gets its own local system, up from a fresh
data directory and checked to leave nothing behind; the helpers live in local_world.py."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from local_world import (
    EXAMPLES,
    Result,
    alive,
    port_flags,
    recorded_pids,
    stigmer,
    user_home,
)

from stigmer_testing import free_ports


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fresh data directory with the local system up; `local down` must leave nothing."""
    home = tmp_path_factory.mktemp("stigmer-home")
    up = stigmer(home, "local", "up", *port_flags(free_ports(3)), timeout=180)
    assert up.code == 0, up.out + up.err
    pids = recorded_pids(home)
    try:
        yield home
    finally:
        down = stigmer(home, "local", "down", timeout=60)
        assert down.code == 0, down.out + down.err
        assert [pid for pid in pids if alive(pid)] == []
        assert not (home / "local-state.json").exists()
        assert sorted(p.name for p in user_home(home).rglob("*")) == []


@pytest.fixture(scope="module")
def applied(home: Path) -> Result:
    result = stigmer(home, "apply", "-f", str(EXAMPLES))
    assert result.code == 0, result.out + result.err
    return result
