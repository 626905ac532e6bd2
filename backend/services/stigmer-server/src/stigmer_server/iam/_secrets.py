"""Secret values are write-only for users: masked in every response to a non-runner caller,
and kept on update when the caller sends a secret back masked (empty).

Masking happens in the gate, on the way out, so every read path (get, getByReference, list,
listBySession, subscribe, and the resource create/update return) is covered by one rule;
only a principal acting as the runner reads them in clear.
"""

from __future__ import annotations

from typing import Any, Final

from google.protobuf.message import Message

_ENV_VALUE: Final = "ai.stigmer.commons.apiresource.EnvironmentValue"


def masked(message: Any) -> Any:
    """`message` itself when it holds no secret value, else a copy with them emptied.

    A copy, because a response may be shared (the execution hub sends one snapshot to
    every subscriber, the runner among them).
    """
    if not isinstance(message, Message) or not _walk(message, mask=False):
        return message
    copy = type(message)()
    copy.CopyFrom(message)
    _walk(copy, mask=True)
    return copy


def _walk(message: Message, *, mask: bool) -> bool:
    """Whether `message` holds a non-empty secret value; with `mask`, empty each one."""
    if message.DESCRIPTOR.full_name == _ENV_VALUE:
        value: Any = message
        if value.is_secret and value.value:
            if mask:
                value.value = ""
            return True
        return False
    found = False
    for field, value in message.ListFields():
        if field.message_type is None:
            continue
        if field.message_type.GetOptions().map_entry:
            if field.message_type.fields_by_name["value"].message_type is None:
                continue
            children = list(value.values())
        elif field.is_repeated:
            children = list(value)
        else:
            children = [value]
        for child in children:
            found = _walk(child, mask=mask) or found
            if found and not mask:
                return True
    return found


def keep_secrets(stored: Message, incoming: Message) -> None:
    """Where `incoming` sends a secret back empty (as it was read), keep the stored value."""
    for field, value in incoming.ListFields():
        message_type = field.message_type
        if message_type is None:
            continue
        before: Any = getattr(stored, field.name)
        if message_type.GetOptions().map_entry:
            entry_type = message_type.fields_by_name["value"].message_type
            if entry_type is None or entry_type.full_name != _ENV_VALUE:
                continue
            for name, item in value.items():
                old = before.get(name)
                if item.is_secret and not item.value and old is not None and old.is_secret:
                    item.value = old.value
        elif not field.is_repeated and stored.HasField(field.name):
            keep_secrets(before, value)
