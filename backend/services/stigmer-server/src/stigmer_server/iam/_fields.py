"""The session fields only the runner writes, and the only fields the runner writes.

A session's `sandbox_id` and `thread_id` pick the sandbox and the conversation a turn runs
in; letting a user set them would let one session run in another's sandbox or read
another's conversation, so only a principal acting as the runner may set or change them.
A `runner` key in turn may change nothing else of a session.
"""

from __future__ import annotations

from typing import Any, Final

from stigmer_server.errors import PermissionDenied
from stigmer_server.principal import Role, current_principal

RUNNER_FIELDS: Final = ("sandbox_id", "thread_id")


def check_session_fields(stored: Any | None, incoming: Any) -> None:
    """Raise PermissionDenied when the caller writes a session field it does not own.

    `stored` is None on create: then any value set counts as a write.
    """
    principal = current_principal()
    for field in RUNNER_FIELDS:
        before = "" if stored is None else getattr(stored.spec, field)
        if getattr(incoming.spec, field) != before and not principal.acts_as(Role.RUNNER):
            raise PermissionDenied(
                f"spec.{field}: set by the runner only (key {principal.key_id!r} has role "
                f"{principal.role.value!r})"
            )
    if principal.role is not Role.RUNNER or stored is None:
        return
    others = [f.name for f in incoming.spec.DESCRIPTOR.fields if f.name not in RUNNER_FIELDS]
    for name in others:
        if getattr(incoming.spec, name) != getattr(stored.spec, name):
            raise PermissionDenied(f"spec.{name}: a runner key may change only {RUNNER_FIELDS}")
    if dict(incoming.metadata.labels) != dict(stored.metadata.labels) or dict(
        incoming.metadata.annotations
    ) != dict(stored.metadata.annotations):
        raise PermissionDenied("metadata: a runner key may change only a session's runner fields")
