"""Identities: API keys as principals with a role and an org, and the gate on every RPC.

docs/architecture/security.md describes who may do what.
"""

from stigmer_server.iam._fields import RUNNER_FIELDS, check_session_fields
from stigmer_server.iam._gate import OPEN_PREFIXES, UNAUTHENTICATED_MESSAGE, AuthGate
from stigmer_server.iam._keys import KeyRegistry
from stigmer_server.iam._orgs import assign_org, check_writable
from stigmer_server.iam._secrets import keep_secrets, masked
from stigmer_server.iam._table import METHOD_ROLES
from stigmer_server.principal import SYSTEM, Principal, Role, current_principal

__all__ = [
    "METHOD_ROLES",
    "OPEN_PREFIXES",
    "RUNNER_FIELDS",
    "SYSTEM",
    "UNAUTHENTICATED_MESSAGE",
    "AuthGate",
    "KeyRegistry",
    "Principal",
    "Role",
    "assign_org",
    "check_session_fields",
    "check_writable",
    "current_principal",
    "keep_secrets",
    "masked",
]
