"""Who is calling: the principal an API key stands for, kept in a contextvar per call.

Outside `iam` because storage scopes every read by it and `iam` itself uses storage.
"""

from __future__ import annotations

import contextvars
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from ai.stigmer.iam.apikey.v1.enum_pb2 import ApiKeyRole


class Role(StrEnum):
    VIEWER = "viewer"
    MEMBER = "member"
    ADMIN = "admin"
    RUNNER = "runner"

    @property
    def proto(self) -> ApiKeyRole.ValueType:
        return _TO_PROTO[self]

    @classmethod
    def from_proto(cls, value: int) -> Role | None:
        return _FROM_PROTO.get(value)


_TO_PROTO: Final = {
    Role.VIEWER: ApiKeyRole.ROLE_VIEWER,
    Role.MEMBER: ApiKeyRole.ROLE_MEMBER,
    Role.ADMIN: ApiKeyRole.ROLE_ADMIN,
    Role.RUNNER: ApiKeyRole.ROLE_RUNNER,
}
_FROM_PROTO: Final = {int(value): role for role, value in _TO_PROTO.items()}


@dataclass(frozen=True)
class Principal:
    """An authenticated caller. `org` empty is the platform scope."""

    key_id: str
    name: str
    org: str
    role: Role
    # A STIGMER_API_KEYS / STIGMER_RUNNER_KEYS key from the server's own config, not the
    # database: the operator's, so it may act as the runner too (security.md says why).
    bootstrap: bool = False

    @property
    def platform(self) -> bool:
        return not self.org

    def acts_as(self, role: Role) -> bool:
        """Whether this principal holds `role`'s rights (a bootstrap admin also the runner's)."""
        if self.role is role:
            return True
        return role is Role.RUNNER and self.bootstrap and self.role is Role.ADMIN


# The server itself (workflows, the reconciler): work no caller asked for in this context.
SYSTEM: Final = Principal("system", "stigmer-server", "", Role.ADMIN, bootstrap=True)

_current: contextvars.ContextVar[Principal] = contextvars.ContextVar("stigmer_principal")


def current_principal() -> Principal:
    """The caller of the RPC being served (set by the gate); the server itself elsewhere."""
    return _current.get(SYSTEM)


def visible_orgs() -> tuple[str, ...] | None:
    """The orgs whose resources the caller sees: its own and the platform's (None = all)."""
    principal = current_principal()
    return None if principal.platform else (principal.org, "")


def set_principal(principal: Principal) -> contextvars.Token[Principal]:
    return _current.set(principal)
