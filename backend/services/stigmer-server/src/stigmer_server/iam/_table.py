"""Which roles may call which RPC: the one table every call is checked against.

A method missing from the table is refused to everyone (fail closed); a test compares the
table with the full method list from reflection. Finer checks that depend on the request
(the session fields only the runner sets, another org's key) live beside the data they
guard, in `iam._fields` and `iam._keys`.
"""

from __future__ import annotations

from typing import Final

from stigmer_server.principal import Role

_AGENTIC: Final = "ai.stigmer.agentic"
_KINDS: Final = {
    "Agent": "agent",
    "AgentInstance": "agentinstance",
    "Session": "session",
    "Skill": "skill",
    "Environment": "environment",
    "McpServer": "mcpserver",
    "AgentExecution": "agentexecution",
}

VIEWERS: Final = frozenset({Role.VIEWER, Role.MEMBER, Role.ADMIN})
MEMBERS: Final = frozenset({Role.MEMBER, Role.ADMIN})
ADMINS: Final = frozenset({Role.ADMIN})
RUNNER: Final = frozenset({Role.RUNNER})
TURN_CONTEXT: Final = "/ai.stigmer.agentic.runner.v1.RunnerQueryController/getTurnContext"


def _service(kind: str, side: str) -> str:
    return f"/{_AGENTIC}.{_KINDS[kind]}.v1.{kind}{side}Controller/"


def _build() -> dict[str, frozenset[Role]]:
    table: dict[str, frozenset[Role]] = {}
    for kind in _KINDS:
        query, command = _service(kind, "Query"), _service(kind, "Command")
        table[query + "get"] = VIEWERS
        table[query + "getByReference"] = VIEWERS
        table[query + "list"] = VIEWERS
        for method in ("create", "update", "delete"):
            table[command + method] = MEMBERS
    # The runner reads a turn's whole context in one call (TURN_CONTEXT, below); besides it
    # only the session (its thread and sandbox) and the execution, by id.
    table[_service("Session", "Query") + "get"] = VIEWERS | RUNNER
    table[_service("AgentExecution", "Query") + "get"] = VIEWERS | RUNNER
    # The runner writes a session's sandbox_id and thread_id, and only those (iam._fields).
    table[_service("Session", "Command") + "update"] = MEMBERS | RUNNER
    executions = _service("AgentExecution", "Query")
    table[executions + "listBySession"] = VIEWERS
    table[executions + "subscribe"] = VIEWERS
    commands = _service("AgentExecution", "Command")
    table[commands + "cancel"] = MEMBERS
    table[commands + "decide"] = MEMBERS
    table[commands + "updateStatus"] = RUNNER
    table[commands + "streamPreviews"] = RUNNER
    keys = "/ai.stigmer.iam.apikey.v1.ApiKey"
    for method in ("CommandController/create", "CommandController/revoke"):
        table[keys + method] = ADMINS
    for method in ("QueryController/get", "QueryController/list"):
        table[keys + method] = ADMINS
    # The one read that returns secret values in clear (iam._gate leaves it unmasked).
    table[TURN_CONTEXT] = RUNNER
    return table


METHOD_ROLES: Final = _build()


def allowed(method: str, principal_role: Role, *, acts_as_runner: bool) -> bool:
    roles = METHOD_ROLES.get(method)
    if roles is None:
        return False
    return principal_role in roles or (acts_as_runner and Role.RUNNER in roles)
