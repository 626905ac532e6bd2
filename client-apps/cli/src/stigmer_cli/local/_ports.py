"""Ports local mode binds: checked before anything starts, so a clash fails fast and clearly."""

from __future__ import annotations

import socket

from stigmer_cli._errors import CliError


def port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # Without SO_REUSEADDR a port in TIME_WAIT counts as taken, as it will for the service.
        try:
            probe.bind((host, port))
        except OSError:
            return True
    return False


def require_free(host: str, ports: dict[str, tuple[int, str]]) -> None:
    """Fail naming every busy port, what wanted it and the option that moves it."""
    busy = [
        (what, port, option) for what, (port, option) in ports.items() if port_in_use(host, port)
    ]
    if not busy:
        return
    names = ", ".join(f"{port} ({what})" for what, port, _ in busy)
    options = "; ".join(f"{option}" for _, _, option in busy)
    first = busy[0][1]
    raise CliError(
        f"port {names} already in use on {host}",
        fix=f"stop the program holding it (see `ss -ltnp 'sport = :{first}'`) or pick "
        f"another port: {options}",
    )


def free_port(host: str) -> int:
    """A port the kernel says is free now, for endpoints nobody needs to know in advance."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port
