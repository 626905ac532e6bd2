"""Orgs on writes: a resource is created in its creator's org; platform-scope resources
(org empty) are written by platform principals only.

Reads need no rule here: storage shows a caller only its org's and the platform's rows
(`storage._store._visible`), so another org's resource is NOT_FOUND wherever it is named.
"""

from __future__ import annotations

from typing import Any

from ai.stigmer.commons.apiresource.enum_pb2 import ApiResourceOwnerScope
from ai.stigmer.commons.apiresource.metadata_pb2 import ApiResourceMetadata
from stigmer_server.errors import PermissionDenied
from stigmer_server.principal import current_principal

_ORGANIZATION = ApiResourceOwnerScope.API_RESOURCE_OWNER_SCOPE_ORGANIZATION


def assign_org(meta: ApiResourceMetadata) -> None:
    """Set a new (or updated) resource's org from the caller; a platform principal names any."""
    principal = current_principal()
    if principal.platform:
        return
    if meta.org and meta.org != principal.org:
        raise PermissionDenied(
            f"metadata.org: key {principal.key_id!r} belongs to org {principal.org!r} "
            f"and may not write in {meta.org!r}"
        )
    meta.org = principal.org
    meta.owner_scope = _ORGANIZATION


def check_writable(kind: str, stored: Any) -> None:
    """A platform-scope resource may be changed or deleted by platform principals only."""
    principal = current_principal()
    if stored.metadata.org or principal.platform:
        return
    raise PermissionDenied(
        f"{kind} {stored.metadata.id!r} is platform-scope: only a platform principal "
        f"(a key without an org) may change it"
    )
