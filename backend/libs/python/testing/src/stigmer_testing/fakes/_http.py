"""What every fake shares: a threaded HTTP/1.1 server on loopback, a request log, failures.

Replies always carry Content-Length. By default every reply also says `Connection: close`:
the clients then close their side at once, instead of leaving pooled sockets that surface as
ResourceWarnings (errors in our pytest config) whenever a client is garbage-collected,
blamed on some later test. `keep_alive=True` serves persistent connections; the server drops
the sockets it still holds when it stops instead of waiting on idle clients.
"""

from __future__ import annotations

import json
import logging
import socket
import sys
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the fake received it: nothing is dropped, so tests can look for secrets."""

    method: str
    path: str
    query: Mapping[str, list[str]]
    headers: Mapping[str, str]  # names lower-cased
    body: bytes

    def json(self) -> Any:
        """The body parsed as JSON (None for an empty body)."""
        return json.loads(self.body) if self.body else None


@dataclass(frozen=True)
class Response:
    """A reply; `parts` are written one by one (with `part_delay` between them) so a stream
    reaches the client as separate events, yet the length is declared up front."""

    status: int
    parts: tuple[bytes, ...] = ()
    content_type: str = "application/json"
    headers: Mapping[str, str] = field(default_factory=dict)
    part_delay: float = 0.0

    @classmethod
    def json(cls, status: int, payload: Any, headers: Mapping[str, str] | None = None) -> Response:
        return cls(status, (json.dumps(payload).encode(),), headers=dict(headers or {}))


@dataclass(frozen=True)
class Failure:
    """An injected failure: the next `count` requests matching `method`/`path` (None = any)
    get `status` with the fake's own error body for `message`, or `body` verbatim."""

    status: int
    message: str = "injected failure"
    retry_after: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes | None = None
    count: int = 1
    method: str | None = None
    path: str | None = None

    def matches(self, request: RecordedRequest) -> bool:
        return (self.method is None or self.method == request.method) and (
            self.path is None or self.path == request.path
        )


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection)

    def finish(self) -> None:
        super().finish()
        self.server.untrack(self.connection)

    def _serve(self) -> None:
        split = urlsplit(self.path)
        request = RecordedRequest(
            method=self.command,
            path=split.path,
            query=parse_qs(split.query),
            headers={name.lower(): value for name, value in self.headers.items()},
            body=self._read_body(),
        )
        self._send(request, self.server.fake.dispatch(request))

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            trailer = self.rfile.readline()
            while trailer.strip():  # trailers end with an empty line
                trailer = self.rfile.readline()
            return b"".join(chunks)
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _send(self, request: RecordedRequest, response: Response) -> None:
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(sum(len(part) for part in response.parts)))
        if not self.server.fake.keep_alive:
            self.send_header("Connection", "close")
            self.close_connection = True
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        for index, part in enumerate(response.parts):
            if index and response.part_delay:
                time.sleep(response.part_delay)
            self.wfile.write(part)
            self.wfile.flush()
            listener = self.server.fake.part_listener
            if listener is not None:
                listener(request, part)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s " + format, self.server.fake.__class__.__name__, *args)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, fake: FakeHttpServer) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.fake = fake
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()

    def track(self, connection: socket.socket) -> None:
        with self._open_lock:
            self._open.add(connection)

    def untrack(self, connection: socket.socket) -> None:
        with self._open_lock:
            self._open.discard(connection)

    def drop_connections(self) -> None:
        with self._open_lock:
            for connection in self._open:
                try:
                    connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    logger.debug("connection already closed by its client")

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients drop pooled connections (and the SDKs probe sockets): that is no error.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


PartListener = Callable[[RecordedRequest, bytes], None]


class FakeHttpServer(ABC):
    """Base of the fakes: subclasses implement `handle` and `error_response`."""

    def __init__(self, *, keep_alive: bool = False) -> None:
        self.keep_alive = keep_alive
        # Called on the handler thread once each reply part is flushed to the client: a
        # benchmark times streamed chunks from the moment they leave the fake.
        self.part_listener: PartListener | None = None
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._failures: list[Failure] = []

    @property
    def url(self) -> str:
        """http://127.0.0.1:<port>, without a trailing slash."""
        if self._server is None:
            raise RuntimeError(f"{type(self).__name__} is not started")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> None:
        self._server = _Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},  # how long stop() waits for the loop to notice
            name=type(self).__name__,
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.drop_connections()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far, oldest first (a copy)."""
        with self._lock:
            return list(self._requests)

    def requests_to(self, method: str, path: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.method == method and r.path == path]

    def fail(self, failure: Failure) -> None:
        """Queue a failure; queued failures are used in order before normal replies."""
        if failure.count < 1:
            raise ValueError(f"Failure.count must be at least 1, got {failure.count}")
        with self._lock:
            self._failures.append(failure)

    def dispatch(self, request: RecordedRequest) -> Response:
        with self._lock:
            self._requests.append(request)
            failure = self._take_failure(request)
        if failure is not None:
            return self._failure_response(failure)
        try:
            return self.handle(request)
        except Exception as error:
            logger.exception(
                "%s failed on %s %s", type(self).__name__, request.method, request.path
            )
            return self.error_response(500, f"fake server error: {error!r}")

    def _take_failure(self, request: RecordedRequest) -> Failure | None:
        for index, failure in enumerate(self._failures):
            if failure.matches(request):
                if failure.count == 1:
                    del self._failures[index]
                else:
                    self._failures[index] = _decremented(failure)
                return failure
        return None

    def _failure_response(self, failure: Failure) -> Response:
        headers = dict(failure.headers)
        if failure.retry_after is not None:
            headers["retry-after"] = failure.retry_after
        if failure.body is not None:
            return Response(failure.status, (failure.body,), headers=headers)
        error = self.error_response(failure.status, failure.message)
        return Response(error.status, error.parts, error.content_type, {**error.headers, **headers})

    @abstractmethod
    def handle(self, request: RecordedRequest) -> Response:
        """The fake's reply to a request no injected failure took."""

    @abstractmethod
    def error_response(self, status: int, message: str) -> Response:
        """An error in the body format the real service uses."""


def _decremented(failure: Failure) -> Failure:
    return replace(failure, count=failure.count - 1)
