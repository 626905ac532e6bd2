"""The ApiKey API: gRPC servicers over the key registry (admins only, by the table)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from ai.stigmer.commons.apiresource.enum_pb2 import ApiResourceOwnerScope
from ai.stigmer.commons.apiresource.io_pb2 import ListRequest
from ai.stigmer.iam.apikey.v1 import command_pb2, command_pb2_grpc, query_pb2, query_pb2_grpc
from ai.stigmer.iam.apikey.v1.api_pb2 import ApiKey
from ai.stigmer.iam.apikey.v1.io_pb2 import ApiKeyId, ApiKeyList, CreatedApiKey
from stigmer_server.errors import InvalidArgument
from stigmer_server.iam._keys import KeyRegistry
from stigmer_server.principal import Role, current_principal
from stigmer_server.storage import KeyRow
from stigmer_server.validation import is_well_formed_id, page_size, page_token

API_VERSION: Final = "iam.stigmer.ai/v1"
KIND: Final = "ApiKey"

Context = grpc.aio.ServicerContext[Any, Any]


class ApiKeyCommands(command_pb2_grpc.ApiKeyCommandControllerServicer):
    def __init__(self, registry: KeyRegistry) -> None:
        self._registry = registry

    async def create(self, request: ApiKey, context: Context) -> CreatedApiKey:
        if request.api_version not in ("", API_VERSION):
            raise InvalidArgument("api_version", f"value must equal {API_VERSION}")
        if request.kind not in ("", KIND):
            raise InvalidArgument("kind", f"value must equal {KIND}")
        if request.metadata.id:
            raise InvalidArgument("metadata.id", "must be empty on create: the server assigns ids")
        role = Role.from_proto(request.spec.role)
        if role is None:
            raise InvalidArgument("spec.role", "required: one of viewer, member, admin, runner")
        row, token = await self._registry.create(
            current_principal(), name=request.metadata.name, org=request.metadata.org, role=role
        )
        return CreatedApiKey(api_key=to_message(row), key=token)

    async def revoke(self, request: ApiKeyId, context: Context) -> ApiKey:
        return to_message(await self._registry.revoke(current_principal(), _key_id(request)))


class ApiKeyQueries(query_pb2_grpc.ApiKeyQueryControllerServicer):
    def __init__(self, registry: KeyRegistry) -> None:
        self._registry = registry

    async def get(self, request: ApiKeyId, context: Context) -> ApiKey:
        return to_message(await self._registry.get(current_principal(), _key_id(request)))

    async def list(self, request: ListRequest, context: Context) -> ApiKeyList:
        page = await self._registry.list(
            current_principal(),
            page_size=page_size(request.page_size),
            after_id=page_token(request.page_token),
        )
        return ApiKeyList(
            items=[to_message(row) for row in page.items], next_page_token=page.next_page_token
        )


def _key_id(request: ApiKeyId) -> str:
    if not request.value.startswith("key-") or not is_well_formed_id(request.value):
        raise InvalidArgument("value", f"expected an ApiKey id (key-<ulid>), got {request.value!r}")
    return request.value


def to_message(row: KeyRow) -> ApiKey:
    key = ApiKey(api_version=API_VERSION, kind=KIND)
    key.metadata.id = row.id
    key.metadata.name = row.name
    key.metadata.org = row.org
    key.metadata.owner_scope = (
        ApiResourceOwnerScope.API_RESOURCE_OWNER_SCOPE_ORGANIZATION
        if row.org
        else ApiResourceOwnerScope.API_RESOURCE_OWNER_SCOPE_PLATFORM
    )
    key.metadata.created_at.CopyFrom(_timestamp(row.created_at))
    role = Role.from_proto(row.role)
    if role is not None:
        key.spec.role = role.proto
    if row.last_used_at is not None:
        key.status.last_used_at.CopyFrom(_timestamp(row.last_used_at))
    if row.revoked_at is not None:
        key.status.revoked = True
        key.status.revoked_at.CopyFrom(_timestamp(row.revoked_at))
    return key


def _timestamp(when: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(when)
    return stamp


def register(registry: KeyRegistry, server: grpc.aio.Server) -> list[str]:
    """Add both servicers to `server`; returns their full service names."""
    command_pb2_grpc.add_ApiKeyCommandControllerServicer_to_server(ApiKeyCommands(registry), server)
    query_pb2_grpc.add_ApiKeyQueryControllerServicer_to_server(ApiKeyQueries(registry), server)
    return [
        command_pb2.DESCRIPTOR.services_by_name["ApiKeyCommandController"].full_name,
        query_pb2.DESCRIPTOR.services_by_name["ApiKeyQueryController"].full_name,
    ]
