"""Finding which field of an undecodable request holds invalid UTF-8.

protobuf refuses a whole message when one string field is not UTF-8, without saying which;
walking the wire format against the descriptor names the field for the client.
"""

from __future__ import annotations

from google.protobuf.descriptor import Descriptor, FieldDescriptor

_VARINT, _FIXED64, _LENGTH, _FIXED32 = 0, 1, 2, 5


def find_invalid_utf8(descriptor: Descriptor, data: bytes, prefix: str = "") -> str | None:
    """The dotted path of the first string field that is not valid UTF-8, if any."""
    pos = 0
    try:
        while pos < len(data):
            key, pos = _varint(data, pos)
            number, wire_type = key >> 3, key & 7
            if wire_type == _VARINT:
                _, pos = _varint(data, pos)
            elif wire_type == _FIXED64:
                pos += 8
            elif wire_type == _FIXED32:
                pos += 4
            elif wire_type == _LENGTH:
                length, pos = _varint(data, pos)
                if pos + length > len(data):
                    return None  # truncated: not a UTF-8 problem
                chunk, pos = data[pos : pos + length], pos + length
                found = _check_field(descriptor.fields_by_number.get(number), chunk, prefix)
                if found is not None:
                    return found
            else:
                return None
    except IndexError:
        return None
    return None


def _check_field(field: FieldDescriptor | None, chunk: bytes, prefix: str) -> str | None:
    if field is None:
        return None
    path = f"{prefix}.{field.name}" if prefix else field.name
    if field.type == FieldDescriptor.TYPE_STRING:
        try:
            chunk.decode("utf-8")
        except UnicodeDecodeError:
            return path
        return None
    if field.type == FieldDescriptor.TYPE_MESSAGE and field.message_type is not None:
        return find_invalid_utf8(field.message_type, chunk, path)
    return None


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
