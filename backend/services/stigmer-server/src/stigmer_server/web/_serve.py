"""Serving the HTTP app with uvicorn in the server's own event loop."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator
from typing import Final

import uvicorn
from starlette.types import ASGIApp

_START_SECONDS: Final = 30.0


class _Uvicorn(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # The server's main loop owns SIGTERM/SIGINT and stops this server itself.
        yield


class HttpServer:
    def __init__(self, app: ASGIApp, address: str, grace_seconds: float) -> None:
        self._app = app
        self._address = address
        self._grace = grace_seconds
        self._server: _Uvicorn | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> str:
        """Bind (a clear OSError when the address is taken), serve, return host:port."""
        host, _, port = self._address.rpartition(":")
        host = host.strip("[]")
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, int(port)))
        except OSError as error:
            sock.close()
            raise OSError(f"cannot listen on {self._address} (HTTP): {error}") from error
        config = uvicorn.Config(
            self._app,
            lifespan="off",
            log_config=None,
            access_log=False,
            ws="none",
            timeout_graceful_shutdown=int(self._grace) or 1,
        )
        self._server = _Uvicorn(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]))
        deadline = asyncio.get_running_loop().time() + _START_SECONDS
        while not self._server.started:
            if self._task.done():
                self._task.result()
                raise OSError(f"the HTTP server on {self._address} stopped at start")
            if asyncio.get_running_loop().time() > deadline:
                raise OSError(f"the HTTP server on {self._address} did not start")
            await asyncio.sleep(0.01)
        bound = sock.getsockname()[1]
        return f"{self._address.rpartition(':')[0]}:{bound}"

    async def stop(self) -> None:
        if self._server is None or self._task is None:
            return
        self._server.should_exit = True
        await self._task
