"""Create, read, update, delete and list for any kind, with the kind's rules plugged in."""

from __future__ import annotations

import logging
from typing import Any

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from ai.stigmer.commons.apiresource.io_pb2 import ListRequest
from ai.stigmer.commons.apiresource.reference_pb2 import ApiResourceReference
from stigmer_server.api._rules import Rules, find_by_reference
from stigmer_server.errors import Conflict, InvalidArgument, NotFound
from stigmer_server.iam import assign_org, check_writable, keep_secrets
from stigmer_server.ids import IdFactory
from stigmer_server.resources import Kind
from stigmer_server.storage import Page, Store, Transaction
from stigmer_server.validation import (
    check_header,
    check_id,
    check_reference,
    normalize_metadata,
    page_size,
    page_token,
)

logger = logging.getLogger(__name__)


class ResourceService:
    """One kind's storage operations behind the boundary checks; errors are domain errors."""

    def __init__(self, store: Store, kind: Kind, rules: Rules, ids: IdFactory) -> None:
        self.store = store
        self.kind = kind
        self.rules = rules
        self.ids = ids

    def prepare_new(self, request: Message) -> Any:
        """A validated copy of `request` with its id, version and timestamps assigned."""
        resource: Any = self.kind.new()
        resource.CopyFrom(request)
        check_header(resource, self.kind)
        if resource.metadata.id:
            raise InvalidArgument("metadata.id", "must be empty on create: the server assigns ids")
        resource_id = self.ids.new(self.kind.id_prefix)
        assign_org(resource.metadata)
        normalize_metadata(resource.metadata, self.kind, resource_id)
        self.rules.validate(resource)
        self.rules.check_create(resource)
        now = Timestamp()
        now.GetCurrentTime()
        resource.metadata.id = resource_id
        resource.metadata.version = 1
        resource.metadata.created_at.CopyFrom(now)
        resource.metadata.updated_at.CopyFrom(now)
        if resource.DESCRIPTOR.fields_by_name.get("status") is not None:
            # Status is computed by the system, never taken from a user.
            resource.ClearField("status")
        return resource

    async def insert(self, tx: Transaction, resource: Any) -> None:
        await self.rules.check_references(tx, resource)
        await tx.insert(self.kind, resource)

    async def create(self, request: Message) -> Any:
        resource = self.prepare_new(request)
        async with self.store.transaction() as tx:
            await self.insert(tx, resource)
        logger.info("created %s %s", self.kind.name, resource.metadata.id)
        return resource

    async def update(self, request: Message) -> Any:
        incoming: Any = self.kind.new()
        incoming.CopyFrom(request)
        check_header(incoming, self.kind)
        resource_id = check_id(incoming.metadata.id, "metadata.id", self.kind)
        async with self.store.transaction() as tx:
            stored: Any = await tx.get(self.kind, resource_id, for_update=True)
            if stored is None:
                raise NotFound(self.kind.name, resource_id, field="metadata.id")
            check_writable(self.kind.name, stored)
            assign_org(incoming.metadata)
            keep_secrets(stored, incoming)
            version = incoming.metadata.version
            if version and version != stored.metadata.version:
                raise Conflict(
                    f"metadata.version: {self.kind.name} {resource_id!r} is at version "
                    f"{stored.metadata.version}, the update was based on version {version}"
                )
            normalize_metadata(incoming.metadata, self.kind, resource_id)
            self.rules.validate(incoming)
            self.rules.check_update(stored, incoming)
            incoming.metadata.created_at.CopyFrom(stored.metadata.created_at)
            incoming.metadata.version = stored.metadata.version + 1
            incoming.metadata.updated_at.GetCurrentTime()
            if incoming.DESCRIPTOR.fields_by_name.get("status") is not None:
                # A status sent through `update` is ignored: it only comes from the system.
                incoming.status.CopyFrom(stored.status)
            await self.rules.check_references(tx, incoming)
            if _changes_nothing(stored, incoming):
                # Secret values are write-only, so a client cannot tell whether its copy
                # differs: it sends the update, and one that changes nothing stores nothing
                # and keeps the version (`stigmer apply` reports it unchanged).
                return stored
            await tx.replace(self.kind, incoming)
        logger.info(
            "updated %s %s to version %d", self.kind.name, resource_id, incoming.metadata.version
        )
        return incoming

    async def delete(self, resource_id: str) -> Any:
        check_id(resource_id, "value", self.kind)
        async with self.store.transaction() as tx:
            stored: Any = await tx.get(self.kind, resource_id, for_update=True)
            if stored is None:
                raise NotFound(self.kind.name, resource_id, field="value")
            check_writable(self.kind.name, stored)
            self.rules.check_delete(stored)
            await tx.delete(self.kind, resource_id)
        logger.info("deleted %s %s", self.kind.name, resource_id)
        return stored

    async def get(self, resource_id: str) -> Any:
        check_id(resource_id, "value", self.kind)
        found = await self.store.get(self.kind, resource_id)
        if found is None:
            raise NotFound(self.kind.name, resource_id, field="value")
        return found

    async def get_by_reference(self, ref: ApiResourceReference) -> Any:
        check_reference(ref, "reference", self.kind)
        async with self.store.transaction() as tx:
            found = await find_by_reference(tx, ref, self.kind)
        if found is None:
            raise NotFound(self.kind.name, ref.slug, field="slug")
        return found

    async def list(self, request: ListRequest, *, session_id: str = "") -> Page:
        size = page_size(request.page_size)
        after = page_token(request.page_token)
        async with self.store.transaction() as tx:
            return await tx.list_page(
                self.kind, org=request.org, page_size=size, after_id=after, session_id=session_id
            )


def _changes_nothing(stored: Any, incoming: Any) -> bool:
    """Whether `incoming` equals `stored` but for the version and update time it was given."""
    candidate: Any = type(incoming)()
    candidate.CopyFrom(incoming)
    candidate.metadata.version = stored.metadata.version
    candidate.metadata.updated_at.CopyFrom(stored.metadata.updated_at)
    return bool(candidate == stored)
