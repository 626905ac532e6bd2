"""Checks a YAML value against a proto message, naming the exact field that is wrong.

protobuf's own ParseDict stops at the first problem and names the message type, not the
path a user wrote; this walk names `spec.subAgents[0].skillRefs[1]` and collects every
problem at once. It also expands the manifest shorthands (a reference as its slug, an
environment value as a plain scalar) into the proto JSON form ParseDict then reads.
"""

from __future__ import annotations

from typing import Any

from google.protobuf.descriptor import Descriptor, EnumDescriptor, FieldDescriptor

from ai.stigmer.commons.apiresource.environment_pb2 import EnvironmentValue
from ai.stigmer.commons.apiresource.reference_pb2 import ApiResourceReference
from stigmer_status import is_map

_REFERENCE = ApiResourceReference.DESCRIPTOR.full_name
_ENV_VALUE = EnvironmentValue.DESCRIPTOR.full_name
# Well-known types whose JSON form is free-form or a string; ParseDict checks them.
_OPAQUE = {
    "google.protobuf.Struct",
    "google.protobuf.Value",
    "google.protobuf.Timestamp",
    "google.protobuf.Duration",
}
# Which kind a reference field points at, for references written as a bare slug.
REFERENCE_KINDS = {
    "skill_refs": "API_RESOURCE_KIND_SKILL",
    "environment_refs": "API_RESOURCE_KIND_ENVIRONMENT",
    "mcp_server_refs": "API_RESOURCE_KIND_MCP_SERVER",
}


def normalize(value: Any, descriptor: Descriptor, path: str, problems: list[str]) -> Any:
    """`value` in proto JSON form; every problem found is appended to `problems`."""
    if not isinstance(value, dict):
        problems.append(f"{path}: expected a mapping, got {_describe(value)}")
        return {}
    result: dict[str, Any] = {}
    for key, item in value.items():
        field = _field(descriptor, key)
        if field is None:
            known = ", ".join(sorted(f.json_name for f in descriptor.fields))
            problems.append(f"{path}.{key}: unknown field (known fields: {known})")
            continue
        if item is None:
            continue
        result[field.name] = _normalize_field(item, field, f"{path}.{key}", problems)
    return result


def _field(descriptor: Descriptor, key: object) -> FieldDescriptor | None:
    if not isinstance(key, str):
        return None
    return descriptor.fields_by_camelcase_name.get(key) or descriptor.fields_by_name.get(key)


def _normalize_field(item: Any, field: FieldDescriptor, path: str, problems: list[str]) -> Any:
    if is_map(field):
        if not isinstance(item, dict):
            problems.append(f"{path}: expected a mapping, got {_describe(item)}")
            return {}
        value_field = _message(field).fields_by_name["value"]
        return {
            str(key): _normalize_single(entry, value_field, f"{path}.{key}", problems)
            for key, entry in item.items()
        }
    if field.is_repeated:
        if not isinstance(item, list):
            problems.append(f"{path}: expected a list, got {_describe(item)}")
            return []
        return [
            _normalize_single(entry, field, f"{path}[{index}]", problems)
            for index, entry in enumerate(item)
        ]
    return _normalize_single(item, field, path, problems)


def _normalize_single(item: Any, field: FieldDescriptor, path: str, problems: list[str]) -> Any:
    if field.type == FieldDescriptor.TYPE_MESSAGE:
        message = _message(field)
        if message.full_name in _OPAQUE:
            return item
        if message.full_name == _REFERENCE and isinstance(item, str):
            item = {"slug": item}
        if message.full_name == _REFERENCE and isinstance(item, dict):
            kind = REFERENCE_KINDS.get(field.name)
            if kind is not None and "kind" not in item:
                item = {**item, "kind": kind}
        if message.full_name == _ENV_VALUE and isinstance(item, str | int | float | bool):
            item = {"value": _scalar_text(item)}
        return normalize(item, message, path, problems)
    if field.type == FieldDescriptor.TYPE_ENUM:
        assert field.enum_type is not None, "enum fields have an enum type"
        return _enum(item, field.enum_type, path, problems)
    return _scalar(item, field, path, problems)


def _enum(item: Any, enum: EnumDescriptor, path: str, problems: list[str]) -> Any:
    names = [value.name for value in enum.values if value.number != 0]
    if isinstance(item, str) and item in enum.values_by_name:
        return item
    problems.append(f"{path}: expected one of {', '.join(names)}, got {item!r}")
    return enum.values[0].name


_STRINGS = {FieldDescriptor.TYPE_STRING, FieldDescriptor.TYPE_BYTES}
_INTS = {
    FieldDescriptor.TYPE_INT32,
    FieldDescriptor.TYPE_INT64,
    FieldDescriptor.TYPE_UINT32,
    FieldDescriptor.TYPE_UINT64,
    FieldDescriptor.TYPE_SINT32,
    FieldDescriptor.TYPE_SINT64,
}


def _scalar(item: Any, field: FieldDescriptor, path: str, problems: list[str]) -> Any:
    if field.type in _STRINGS:
        if isinstance(item, str):
            return item
        problems.append(f"{path}: expected a string, got {_describe(item)} (quote it)")
        return ""
    if field.type == FieldDescriptor.TYPE_BOOL:
        if isinstance(item, bool):
            return item
        problems.append(f"{path}: expected true or false, got {_describe(item)}")
        return False
    if field.type in _INTS:
        if isinstance(item, int) and not isinstance(item, bool):
            return item
        problems.append(f"{path}: expected an integer, got {_describe(item)}")
        return 0
    if isinstance(item, int | float) and not isinstance(item, bool):
        return item
    problems.append(f"{path}: expected a number, got {_describe(item)}")
    return 0


def _message(field: FieldDescriptor) -> Descriptor:
    assert field.message_type is not None, "message fields have a message type"
    return field.message_type


def _scalar_text(item: str | int | float | bool) -> str:
    if isinstance(item, bool):
        return "true" if item else "false"
    return str(item)


def _describe(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing"
    return f"{type(value).__name__} {value!r}"
