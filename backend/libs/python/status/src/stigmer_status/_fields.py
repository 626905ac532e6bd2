"""Protobuf descriptor questions the merge rules, the server's checks and the CLI all ask."""

from __future__ import annotations

from google.protobuf.descriptor import FieldDescriptor


def is_map(field: FieldDescriptor) -> bool:
    """True for a `map<K, V>` field: on the wire a repeated entry message marked `map_entry`."""
    entry = field.message_type if field.type == FieldDescriptor.TYPE_MESSAGE else None
    return entry is not None and entry.GetOptions().map_entry
