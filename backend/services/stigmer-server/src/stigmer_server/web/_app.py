"""The ASGI app on STIGMER_HTTP_ADDRESS: Connect services, sign-in tickets, the console at `/`."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from connectrpc.compat import google_protobuf_codecs
from connectrpc.server import ConnectASGIApplication
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from stigmer_server.iam import UNAUTHENTICATED_MESSAGE, KeyRegistry
from stigmer_server.web._bridge import ConnectBridge
from stigmer_server.web._keycheck import KeyCheck
from stigmer_server.web._tickets import TICKET_SECONDS, SignInTickets

logger = logging.getLogger(__name__)

# What a browser needs to call Connect from another origin (when CORS is configured).
_CORS_HEADERS = [
    "authorization",
    "content-type",
    "connect-protocol-version",
    "connect-timeout-ms",
    "x-user-agent",
]
_CORS_EXPOSED = ["grpc-status", "grpc-message", "grpc-status-details-bin"]
# The console loads only its own files and talks only to this server.
_SECURITY_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'self'; connect-src 'self'; img-src 'self' data:; "
        b"style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
]


class _Connect(ConnectASGIApplication[ConnectBridge]):
    """One Connect app for every service; its endpoints are keyed by full path."""

    @property
    def path(self) -> str:
        return "/"


def http_app(
    *,
    bridge: ConnectBridge,
    keys: KeyRegistry,
    tickets: SignInTickets,
    console_dir: Path | None,
    cors_origins: Sequence[str] = (),
    connect_interceptors: Sequence[Any] = (),
) -> ASGIApp:
    connect = _Connect(
        service=bridge,
        endpoints=lambda b: b.endpoints(),
        # Tracing first, so a refused call has its span too; then the key, before the body.
        interceptors=[*connect_interceptors, KeyCheck(keys)],
        # The servicers speak google.protobuf messages (the _pb2 stubs), JSON and binary.
        codecs=google_protobuf_codecs(),
    )
    routes: list[BaseRoute] = [Mount(f"/{name}", app=connect) for name in bridge.service_names]
    routes += [
        Route("/console/tickets", _issue(keys, tickets), methods=["POST"]),
        Route("/console/sign-in", _redeem(tickets), methods=["POST"]),
    ]
    if console_dir is not None and (console_dir / "index.html").is_file():
        routes.append(Mount("/", app=StaticFiles(directory=console_dir, html=True)))
    else:
        if console_dir is not None:
            logger.warning("no console at %s (index.html missing): run `make setup`", console_dir)
        routes.append(Route("/", _not_built))
    middleware = []
    if cors_origins:
        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=list(cors_origins),
                allow_methods=["GET", "POST"],
                allow_headers=_CORS_HEADERS,
                expose_headers=_CORS_EXPOSED,
            )
        )
    return _SecurityHeaders(Starlette(routes=routes, middleware=middleware))


class _SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *_SECURITY_HEADERS]}
            await send(message)

        await self._app(scope, receive, with_headers)


def _error(status: int, code: str, message: str) -> JSONResponse:
    # The shape of a Connect error, so the console reads both the same way.
    body = {"code": code, "message": message}
    return JSONResponse(body, status_code=status, headers={"cache-control": "no-store"})


def _issue(keys: KeyRegistry, tickets: SignInTickets) -> Any:
    async def issue(request: Request) -> Response:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        principal = (
            await keys.authenticate(token.strip())
            if scheme.lower() == "bearer" and token.strip()
            else None
        )
        if principal is None:
            return _error(401, "unauthenticated", UNAUTHENTICATED_MESSAGE)
        logger.info("issued a console sign-in ticket for key %s", principal.key_id)
        return JSONResponse(
            {"ticket": tickets.issue(token.strip()), "expiresInSeconds": int(TICKET_SECONDS)},
            headers={"cache-control": "no-store"},
        )

    return issue


def _redeem(tickets: SignInTickets) -> Any:
    async def redeem(request: Request) -> Response:
        try:
            body: Mapping[str, Any] = json.loads(await request.body())
            ticket = body["ticket"]
            if not isinstance(ticket, str):
                raise TypeError(ticket)
        except (ValueError, KeyError, TypeError):
            expected = 'ticket: expected a JSON body {"ticket": "<ticket>"}'
            return _error(400, "invalid_argument", expected)
        key = tickets.redeem(ticket)
        if key is None:
            return _error(
                401,
                "unauthenticated",
                "ticket: unknown, already used or expired; "
                "run `stigmer local console` for a new link",
            )
        return JSONResponse({"apiKey": key}, headers={"cache-control": "no-store"})

    return redeem


async def _not_built(_request: Request) -> Response:
    return PlainTextResponse(
        "The console is not built here: run `make setup` (it builds client-apps/console), "
        "or set STIGMER_CONSOLE_DIR to a built console.\n",
        status_code=404,
    )
