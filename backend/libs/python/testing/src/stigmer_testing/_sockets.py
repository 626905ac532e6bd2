"""Unit tests (no `integration` marker) cannot open network sockets."""

from __future__ import annotations

import pytest
import pytest_socket


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "integration: starts real processes or servers (Temporal, gRPC, databases, sandboxes)",
    )


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("integration") is None:
        # AF_UNIX stays open: asyncio's event loop wakes itself through a socketpair.
        pytest_socket.disable_socket(allow_unix_socket=True)
    else:
        pytest_socket.enable_socket()
