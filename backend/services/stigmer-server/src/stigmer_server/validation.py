"""Checks at the API boundary: one function per concern, each naming the field it rejects."""

from __future__ import annotations

import re
from typing import Any, Final

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from ai.stigmer.commons.apiresource.enum_pb2 import ApiResourceKind, ApiResourceOwnerScope
from ai.stigmer.commons.apiresource.metadata_pb2 import ApiResourceMetadata
from ai.stigmer.commons.apiresource.reference_pb2 import ApiResourceReference
from stigmer_server.errors import InvalidArgument
from stigmer_server.resources import API_VERSION, Kind
from stigmer_status import is_map

MAX_NAME: Final = 256
MAX_SLUG: Final = 63
MAX_ORG: Final = 128
MAX_LABELS: Final = 64
MAX_LABEL_VALUE: Final = 256
MAX_STRING: Final = 1_048_576  # any other string field, e.g. instructions or a skill body
MAX_PAGE_SIZE: Final = 500
DEFAULT_PAGE_SIZE: Final = 50

_SLUG = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_ID = re.compile(r"^[a-z]{3}-[0-9a-z]{26}$")
_SCOPE = ApiResourceOwnerScope


def check_header(resource: Any, kind: Kind) -> None:
    if resource.api_version != API_VERSION:
        raise InvalidArgument(
            "api_version", f"value must equal {API_VERSION}, got {resource.api_version!r}"
        )
    if resource.kind != kind.name:
        raise InvalidArgument("kind", f"value must equal {kind.name}, got {resource.kind!r}")


def check_id(value: str, field: str, kind: Kind) -> str:
    if not value:
        raise InvalidArgument(field, f"required: the {kind.name} id ({kind.id_prefix}-<ulid>)")
    if len(value) > 64:
        raise InvalidArgument(field, f"too long ({len(value)} characters, at most 64)")
    return value


def is_well_formed_id(value: str) -> bool:
    return bool(_ID.match(value))


def normalize_metadata(meta: ApiResourceMetadata, kind: Kind, resource_id: str) -> None:
    """Fill the name/slug/owner-scope defaults and reject malformed metadata."""
    if len(meta.name) > MAX_NAME:
        raise InvalidArgument(
            "metadata.name", f"too long ({len(meta.name)} characters, at most {MAX_NAME})"
        )
    if not meta.slug:
        meta.slug = slugify(meta.name) if meta.name else ""
        if not meta.slug:
            if not kind.slug_defaults_to_id:
                raise InvalidArgument(
                    "metadata.name", f"required: a {kind.name} needs a name or a slug"
                )
            meta.slug = resource_id
    if not _SLUG.match(meta.slug) or len(meta.slug) > MAX_SLUG:
        raise InvalidArgument(
            "metadata.slug",
            f"expected lower-case letters, digits and inner dashes, at most {MAX_SLUG} "
            f"characters, got {meta.slug[:80]!r}",
        )
    if not meta.name:
        meta.name = meta.slug
    if len(meta.org) > MAX_ORG:
        raise InvalidArgument(
            "metadata.org", f"too long ({len(meta.org)} characters, at most {MAX_ORG})"
        )
    meta.owner_scope = default_scope(meta.owner_scope, meta.org)
    if meta.owner_scope == _SCOPE.API_RESOURCE_OWNER_SCOPE_ORGANIZATION and not meta.org:
        raise InvalidArgument("metadata.org", "required when owner_scope is ORGANIZATION")
    if meta.owner_scope not in _SCOPE.values():
        raise InvalidArgument("metadata.owner_scope", f"unknown value {meta.owner_scope}")
    _check_string_map(meta.labels, "metadata.labels", MAX_LABEL_VALUE)
    _check_string_map(meta.annotations, "metadata.annotations", MAX_STRING)


def default_scope(
    scope: ApiResourceOwnerScope.ValueType, org: str
) -> ApiResourceOwnerScope.ValueType:
    """An unspecified scope is ORGANIZATION when an org is named, PLATFORM otherwise."""
    if scope != _SCOPE.API_RESOURCE_OWNER_SCOPE_UNSPECIFIED:
        return scope
    if org:
        return _SCOPE.API_RESOURCE_OWNER_SCOPE_ORGANIZATION
    return _SCOPE.API_RESOURCE_OWNER_SCOPE_PLATFORM


def check_reference(ref: ApiResourceReference, field: str, expected: Kind) -> None:
    if ref.kind not in (ApiResourceKind.API_RESOURCE_KIND_UNSPECIFIED, expected.reference_kind):
        raise InvalidArgument(
            f"{field}.kind",
            f"value must equal {ApiResourceKind.Name(expected.reference_kind)}, "
            f"got {_kind_name(ref.kind)}",
        )
    if not ref.slug:
        raise InvalidArgument(f"{field}.slug", f"required: the referenced {expected.name}'s slug")


def check_env_names(data: Any, field: str) -> None:
    for name in data:
        if not _ENV_NAME.match(name):
            raise InvalidArgument(
                f"{field}[{name[:64]!r}]",
                "expected an environment variable name (letters, digits, underscores; "
                "not starting with a digit)",
            )


def check_sizes(message: Message, prefix: str) -> None:
    """Every string field, however deep, within MAX_STRING characters."""
    for field, value in message.ListFields():
        path = f"{prefix}.{field.name}" if prefix else field.name
        if field.type == FieldDescriptor.TYPE_STRING:
            for item in value if field.is_repeated else [value]:
                _check_length(item, path)
        elif field.type != FieldDescriptor.TYPE_MESSAGE:
            continue
        elif is_map(field):
            for key, item in value.items():
                _check_length(str(key), f"{path} key")
                if isinstance(item, Message):
                    check_sizes(item, f"{path}[{str(key)[:64]!r}]")
                elif isinstance(item, str):
                    _check_length(item, f"{path}[{str(key)[:64]!r}]")
        elif field.is_repeated:
            for index, item in enumerate(value):
                check_sizes(item, f"{path}[{index}]")
        else:
            check_sizes(value, path)


def _check_length(value: str, path: str) -> None:
    if len(value) > MAX_STRING:
        raise InvalidArgument(path, f"too long ({len(value)} characters, at most {MAX_STRING})")


def page_size(requested: int) -> int:
    if requested < 0:
        raise InvalidArgument(
            "page_size", f"expected 0 (default {DEFAULT_PAGE_SIZE}) or more, got {requested}"
        )
    return min(requested or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)


def page_token(token: str) -> str:
    if token and not is_well_formed_id(token):
        raise InvalidArgument("page_token", "not a token this server returned")
    return token


def slugify(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return slug[:MAX_SLUG].rstrip("-")


def _check_string_map(values: Any, field: str, max_value: int) -> None:
    if len(values) > MAX_LABELS:
        raise InvalidArgument(field, f"too many entries ({len(values)}, at most {MAX_LABELS})")
    for key, value in values.items():
        if not key or len(key) > MAX_SLUG:
            raise InvalidArgument(field, f"key {key[:80]!r}: expected 1 to {MAX_SLUG} characters")
        if len(value) > max_value:
            raise InvalidArgument(
                f"{field}[{key!r}]", f"too long ({len(value)} characters, at most {max_value})"
            )


def _kind_name(value: ApiResourceKind.ValueType) -> str:
    return ApiResourceKind.Name(value) if value in ApiResourceKind.values() else str(value)
