"""Key tokens `stk_<id>_<secret>` and the salted hash that is all the server keeps.

The secret is 32 random bytes (256 bits), so no password-style slow hash (scrypt) is
needed: guessing it is infeasible however fast each guess is, and a slow hash would cost
every RPC tens of milliseconds. HMAC-SHA256 keyed with a per-key random salt keeps equal
secrets from having equal hashes and defeats precomputed tables; the comparison is
constant-time (hmac.compare_digest).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from typing import Final

PREFIX: Final = "stk_"
# Ids are `key-<ulid>` (no underscore), so the first `_` after the prefix ends the id.
_TOKEN: Final = re.compile(r"^stk_(key-[0-9a-z]{26})_([A-Za-z0-9_-]{16,})$")


@dataclass(frozen=True)
class ParsedToken:
    key_id: str
    secret: str


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def new_salt() -> bytes:
    return secrets.token_bytes(16)


def format_token(key_id: str, secret: str) -> str:
    return f"{PREFIX}{key_id}_{secret}"


def parse_token(token: str) -> ParsedToken | None:
    match = _TOKEN.match(token)
    return None if match is None else ParsedToken(match.group(1), match.group(2))


def secret_hash(salt: bytes, secret: str) -> bytes:
    return hmac.new(salt, secret.encode(), hashlib.sha256).digest()


def secret_matches(salt: bytes, secret: str, stored: bytes) -> bool:
    return hmac.compare_digest(secret_hash(salt, secret), stored)
