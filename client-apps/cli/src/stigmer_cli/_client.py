"""The gRPC connection to a stigmer-server, and resource calls with errors classified once."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar, cast

import grpc
from google.protobuf.message import Message

from ai.stigmer.commons.apiresource.io_pb2 import ListRequest
from ai.stigmer.commons.apiresource.reference_pb2 import ApiResourceReference
from stigmer_cli import _env
from stigmer_cli._errors import CliError, from_rpc_error, rpc_code
from stigmer_cli._kinds import Kind
from stigmer_cli._tracing import TracingInterceptor
from stigmer_cli.local._apikey import read_api_key
from stigmer_cli.local._layout import DEFAULT_SERVER_PORT, LOOPBACK, Layout, LocalSettings
from stigmer_telemetry.tracing import tracing_enabled

_T = TypeVar("_T")
_CALL_TIMEOUT_SECONDS = 30.0


@dataclass(frozen=True)
class ClientConfig:
    address: str
    api_key: str

    def __repr__(self) -> str:
        return f"ClientConfig(address={self.address!r}, api_key=<hidden>)"


def resolve_config(
    home: Path, address: str | None, api_key: str | None, environ: os._Environ[str] | dict[str, str]
) -> ClientConfig:
    """Flags first, then STIGMER_SERVER_ADDRESS / STIGMER_API_KEY, then local mode's files."""
    layout = Layout(home)
    address = address or environ.get(_env.STIGMER_SERVER_ADDRESS)
    if not address:
        try:
            text = layout.settings_file.read_text(encoding="utf-8")
            address = LocalSettings.from_json(text).server_address
        except FileNotFoundError:
            address = f"{LOOPBACK}:{DEFAULT_SERVER_PORT}"
    api_key = api_key or environ.get(_env.STIGMER_API_KEY)
    if not api_key:
        if not layout.api_key_file.exists():
            raise CliError(
                f"no API key: {_env.STIGMER_API_KEY} is unset and {layout.api_key_file} "
                "does not exist",
                fix=f"start the local system (`stigmer local up`) or set {_env.STIGMER_API_KEY}",
            )
        api_key = read_api_key(layout.api_key_file)
    return ClientConfig(address=address, api_key=api_key)


class _Auth(grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor):
    """Adds `authorization: Bearer <key>` to every call."""

    def __init__(self, api_key: str) -> None:
        self._header = ("authorization", f"Bearer {api_key}")

    def _with_key(self, details: Any) -> Any:
        metadata = [*(details.metadata or ()), self._header]
        return details._replace(metadata=metadata)

    def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        return continuation(self._with_key(details), request)

    def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        return continuation(self._with_key(details), request)


def open_channel(config: ClientConfig) -> grpc.Channel:
    """TLS when the address ends in :443, as the services do; plaintext otherwise."""
    if config.address.endswith(":443"):
        base = grpc.secure_channel(config.address, grpc.ssl_channel_credentials())
    else:
        base = grpc.insecure_channel(config.address)
    return grpc.intercept_channel(_traced(base), _Auth(config.api_key))


def _traced(channel: grpc.Channel) -> grpc.Channel:
    # With tracing on, each call is a client span whose context travels in its metadata.
    if not tracing_enabled():
        return channel
    return grpc.intercept_channel(channel, TracingInterceptor())


class Resources:
    """Resource calls by kind, with gRPC failures turned into CliErrors in one place."""

    def __init__(self, channel: grpc.Channel, address: str) -> None:
        self.channel = channel
        self.address = address

    def call(self, action: str, fn: Callable[[], _T]) -> _T:
        try:
            return fn()
        except grpc.RpcError as error:
            raise from_rpc_error(error, address=self.address, action=action) from None

    def by_slug(self, kind: Kind, slug: str) -> Message | None:
        reference = ApiResourceReference(kind=kind.api_kind, slug=slug)
        stub = kind.query_stub(self.channel)
        try:
            return cast(Message, stub.getByReference(reference, timeout=_CALL_TIMEOUT_SECONDS))
        except grpc.RpcError as error:
            if rpc_code(error) == grpc.StatusCode.NOT_FOUND:
                return None
            action = f"get {kind.name} {slug}"
            raise from_rpc_error(error, address=self.address, action=action) from None

    def by_id(self, kind: Kind, value: str) -> Message | None:
        stub = kind.query_stub(self.channel)
        try:
            return cast(Message, stub.get(kind.id_of(value), timeout=_CALL_TIMEOUT_SECONDS))
        except grpc.RpcError as error:
            if rpc_code(error) in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT):
                return None
            action = f"get {kind.name} {value}"
            raise from_rpc_error(error, address=self.address, action=action) from None

    def find(self, kind: Kind, slug_or_id: str) -> Message:
        """By id when one matches, else by slug; a clear error when neither does."""
        found = self.by_id(kind, slug_or_id) or self.by_slug(kind, slug_or_id)
        if found is None:
            raise CliError(
                f"no {kind.name} with id or slug {slug_or_id!r}",
                fix=f"list them with `stigmer get {kind.plural}`",
            )
        return found

    def list(self, kind: Kind) -> list[Message]:
        stub = kind.query_stub(self.channel)
        items: list[Message] = []
        token = ""
        while True:
            request = ListRequest(page_size=200, page_token=token)
            page: Any = self.call(
                f"list {kind.plural}",
                functools.partial(stub.list, request, timeout=_CALL_TIMEOUT_SECONDS),
            )
            items.extend(page.items)
            token = page.next_page_token
            if not token:
                return items

    def create(self, kind: Kind, resource: Message) -> Message:
        stub = kind.command_stub(self.channel)
        return cast(
            Message,
            self.call(
                f"create {kind.name}",
                lambda: stub.create(resource, timeout=_CALL_TIMEOUT_SECONDS),
            ),
        )

    def update(self, kind: Kind, resource: Message) -> Message:
        stub = kind.command_stub(self.channel)
        return cast(
            Message,
            self.call(
                f"update {kind.name}",
                lambda: stub.update(resource, timeout=_CALL_TIMEOUT_SECONDS),
            ),
        )

    def delete(self, kind: Kind, value: str) -> Message:
        stub = kind.command_stub(self.channel)
        return cast(
            Message,
            self.call(
                f"delete {kind.name}",
                lambda: stub.delete(kind.id_of(value), timeout=_CALL_TIMEOUT_SECONDS),
            ),
        )
