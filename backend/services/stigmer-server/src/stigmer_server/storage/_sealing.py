"""Secret values encrypted at rest: AES-256-GCM, sealed into the value field they replace.

A sealed value reads `sealed:v1:<key id>:<base64 of nonce + ciphertext>`; the resource's id
is the associated data, so a sealed value copied into another resource does not open. The
first key of the key file seals; every key in it opens, which is how keys are rotated
(docs/architecture/security.md). Without a key file values are stored as given.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from google.protobuf.message import Message

_ENV_VALUE: Final = "ai.stigmer.commons.apiresource.EnvironmentValue"
_PREFIX: Final = "sealed:v1:"
_KEY_ID: Final = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")


class SealingError(ValueError):
    """A key file that cannot be used, or a stored value no configured key opens."""


@dataclass(frozen=True)
class Sealer:
    keys: tuple[tuple[str, bytes], ...]

    @classmethod
    def from_file(cls, path: Path) -> Sealer:
        """Lines `<key id> <base64 of 32 bytes>`; the first seals, all open."""
        return cls.from_text(path.read_text(encoding="utf-8"), source=str(path))

    @classmethod
    def from_text(cls, text: str, *, source: str) -> Sealer:
        """The key file's lines (`source` names where they came from in errors); a value
        from a secret store may separate them with commas instead of newlines."""
        keys = []
        for number, line in enumerate(text.replace(",", "\n").splitlines(), 1):
            if not line.strip() or line.startswith("#"):
                continue
            key_id, _, encoded = line.strip().partition(" ")
            try:
                key = base64.b64decode(encoded.strip(), validate=True)
            except binascii.Error:
                key = b""
            if not _KEY_ID.match(key_id) or len(key) != 32:
                raise SealingError(
                    f"{source}:{number}: expected `<key id> <base64 of 32 random bytes>`"
                )
            keys.append((key_id, key))
        if not keys:
            raise SealingError(f"{source}: no key")
        return cls(tuple(keys))

    @staticmethod
    def new_key_line(key_id: str) -> str:
        return f"{key_id} {base64.b64encode(os.urandom(32)).decode('ascii')}"

    def seal(self, message: Message, resource_id: str) -> None:
        key_id, key = self.keys[0]
        for value in _secret_values(message):
            if value.value and not value.value.startswith(_PREFIX):
                nonce = os.urandom(12)
                sealed = AESGCM(key).encrypt(nonce, value.value.encode(), resource_id.encode())
                encoded = base64.b64encode(nonce + sealed).decode("ascii")
                value.value = f"{_PREFIX}{key_id}:{encoded}"

    def stale(self, message: Message) -> bool:
        """Whether a secret of `message` is sealed with a key other than the sealing one."""
        current = f"{_PREFIX}{self.keys[0][0]}:"
        return any(
            value.value.startswith(_PREFIX) and not value.value.startswith(current)
            for value in _secret_values(message)
        )

    def open(self, message: Message, resource_id: str) -> None:
        keys = dict(self.keys)
        for value in _secret_values(message):
            if not value.value.startswith(_PREFIX):
                continue
            key_id, _, encoded = value.value[len(_PREFIX) :].partition(":")
            key = keys.get(key_id)
            if key is None:
                raise SealingError(
                    f"a secret of {resource_id} is sealed with key {key_id!r}, which is not "
                    "in the key file"
                )
            raw = base64.b64decode(encoded)
            try:
                value.value = AESGCM(key).decrypt(raw[:12], raw[12:], resource_id.encode()).decode()
            except InvalidTag as error:
                raise SealingError(f"a secret of {resource_id} does not open") from error


def has_secret(message: Message) -> bool:
    return any(value.value for value in _secret_values(message))


def _secret_values(message: Message) -> list[Any]:
    if message.DESCRIPTOR.full_name == _ENV_VALUE:
        value: Any = message
        return [value] if value.is_secret else []
    found: list[Any] = []
    for field, child in message.ListFields():
        if field.message_type is None:
            continue
        if field.message_type.GetOptions().map_entry:
            if field.message_type.fields_by_name["value"].message_type is None:
                continue
            children = list(child.values())
        elif field.is_repeated:
            children = list(child)
        else:
            children = [child]
        for item in children:
            found.extend(_secret_values(item))
    return found
