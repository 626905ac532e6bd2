"""A key check before the request body is read, as gRPC's gate refuses unread bytes.

It only authenticates (same KeyRegistry as the gate); the gate in the interceptor chain
still decides, per method and role, as on gRPC.
"""

from __future__ import annotations

from typing import Any

from connectrpc.code import Code
from connectrpc.errors import ConnectError
from connectrpc.request import RequestContext

from stigmer_server.iam import UNAUTHENTICATED_MESSAGE, KeyRegistry


class KeyCheck:
    """A Connect metadata interceptor: `on_start` runs before the body is read."""

    def __init__(self, keys: KeyRegistry) -> None:
        self._keys = keys

    async def on_start(self, ctx: RequestContext[Any, Any]) -> None:
        values = ctx.request_headers.getall("authorization")
        scheme, _, token = (values[0] if len(values) == 1 else "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ConnectError(Code.UNAUTHENTICATED, UNAUTHENTICATED_MESSAGE)
        if await self._keys.authenticate(token.strip()) is None:
            raise ConnectError(Code.UNAUTHENTICATED, UNAUTHENTICATED_MESSAGE)

    async def on_end(
        self, token: Any, ctx: RequestContext[Any, Any], error: Exception | None
    ) -> None:
        return None
