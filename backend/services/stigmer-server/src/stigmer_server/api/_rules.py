"""What each kind checks beyond the common metadata: its spec and its references."""

from __future__ import annotations

from typing import Any

from ai.stigmer.commons.apiresource.enum_pb2 import ApiResourceOwnerScope
from ai.stigmer.commons.apiresource.reference_pb2 import ApiResourceReference
from stigmer_server import resources as kinds
from stigmer_server.api._approval_rules import check_tool_approvals
from stigmer_server.api._mcp_rules import check_mcp_server_spec
from stigmer_server.errors import FailedPrecondition, InvalidArgument, NotFound
from stigmer_server.iam import RUNNER_FIELDS, check_session_fields
from stigmer_server.principal import current_principal
from stigmer_server.resources import Kind
from stigmer_server.storage import Transaction
from stigmer_server.validation import (
    check_env_names,
    check_reference,
    check_sizes,
    default_scope,
)
from stigmer_status import is_final

_SANDBOX_TYPES = ("", "local", "daytona")
_ORGANIZATION = ApiResourceOwnerScope.API_RESOURCE_OWNER_SCOPE_ORGANIZATION
_PLATFORM = ApiResourceOwnerScope.API_RESOURCE_OWNER_SCOPE_PLATFORM


class Rules:
    """The defaults: only the generic size check of the spec."""

    def validate(self, resource: Any) -> None:
        check_sizes(resource.spec, "spec")

    async def check_references(self, tx: Transaction, resource: Any) -> None:
        return None

    def check_create(self, resource: Any) -> None:
        return None

    def check_update(self, stored: Any, incoming: Any) -> None:
        return None

    def check_delete(self, stored: Any) -> None:
        return None


async def find_by_reference(tx: Transaction, ref: ApiResourceReference, kind: Kind) -> Any:
    """A reference without org or scope resolves in the caller's org, then the platform's."""
    principal = current_principal()
    if ref.org or ref.scope or principal.platform:
        return await tx.get_by_slug(kind, default_scope(ref.scope, ref.org), ref.org, ref.slug)
    found = await tx.get_by_slug(kind, _ORGANIZATION, principal.org, ref.slug)
    if found is None:
        found = await tx.get_by_slug(kind, _PLATFORM, "", ref.slug)
    return found


async def resolve_reference(
    tx: Transaction, ref: ApiResourceReference, field: str, kind: Kind
) -> Any:
    check_reference(ref, field, kind)
    found = await find_by_reference(tx, ref, kind)
    if found is None:
        raise NotFound(kind.name, ref.slug, field=f"{field}.slug")
    if found.metadata.org != ref.org:
        # Stored resolved: whoever reads the spec later (the runner, with a platform key)
        # finds the same resource.
        ref.org = found.metadata.org
    return found


async def require(tx: Transaction, kind: Kind, resource_id: str, field: str) -> Any:
    if not resource_id:
        raise InvalidArgument(field, f"required: the {kind.name} id ({kind.id_prefix}-<ulid>)")
    found = await tx.get(kind, resource_id)
    if found is None:
        raise NotFound(kind.name, resource_id, field=field)
    return found


class AgentRules(Rules):
    def validate(self, resource: Any) -> None:
        super().validate(resource)
        spec = resource.spec
        check_env_names(spec.env_spec.data, "spec.env_spec.data")
        if spec.sandbox.type not in _SANDBOX_TYPES:
            raise InvalidArgument(
                "spec.sandbox.type", f"expected local or daytona, got {spec.sandbox.type!r}"
            )
        seen: set[str] = set()
        for index, sub in enumerate(spec.sub_agents):
            field = f"spec.sub_agents[{index}].name"
            if not sub.name:
                raise InvalidArgument(field, "required")
            if sub.name in seen:
                raise InvalidArgument(field, f"duplicate sub-agent name {sub.name!r}")
            seen.add(sub.name)
            check_tool_approvals(sub.tool_approvals, f"spec.sub_agents[{index}].tool_approvals")
        check_tool_approvals(spec.tool_approvals, "spec.tool_approvals")

    async def check_references(self, tx: Transaction, resource: Any) -> None:
        spec = resource.spec
        for index, ref in enumerate(spec.skill_refs):
            await resolve_reference(tx, ref, f"spec.skill_refs[{index}]", kinds.SKILL)
        for i, sub in enumerate(spec.sub_agents):
            for j, ref in enumerate(sub.skill_refs):
                await resolve_reference(
                    tx, ref, f"spec.sub_agents[{i}].skill_refs[{j}]", kinds.SKILL
                )
        for index, ref in enumerate(spec.mcp_server_refs):
            await resolve_reference(tx, ref, f"spec.mcp_server_refs[{index}]", kinds.MCP_SERVER)
        for i, sub in enumerate(spec.sub_agents):
            for j, ref in enumerate(sub.mcp_server_refs):
                await resolve_reference(
                    tx, ref, f"spec.sub_agents[{i}].mcp_server_refs[{j}]", kinds.MCP_SERVER
                )


class AgentInstanceRules(Rules):
    async def check_references(self, tx: Transaction, resource: Any) -> None:
        await require(tx, kinds.AGENT, resource.spec.agent_id, "spec.agent_id")
        for index, ref in enumerate(resource.spec.environment_refs):
            await resolve_reference(tx, ref, f"spec.environment_refs[{index}]", kinds.ENVIRONMENT)


class SessionRules(Rules):
    async def check_references(self, tx: Transaction, resource: Any) -> None:
        await require(
            tx, kinds.AGENT_INSTANCE, resource.spec.agent_instance_id, "spec.agent_instance_id"
        )
        await _check_pins(tx, resource)

    def check_create(self, resource: Any) -> None:
        check_session_fields(None, resource)

    def check_update(self, stored: Any, incoming: Any) -> None:
        if incoming.spec.agent_instance_id != stored.spec.agent_instance_id:
            raise InvalidArgument(
                "spec.agent_instance_id", "a session's agent instance cannot change"
            )
        check_session_fields(stored, incoming)


async def _check_pins(tx: Transaction, session: Any) -> None:
    """A sandbox or thread newly pinned on a session must not be another org's: a session
    pointed at another org's sandbox would run in its files and environment, one pointed
    at its thread would read its conversation. Another org's is NOT_FOUND, as everywhere."""
    stored: Any = await tx.get(kinds.SESSION, session.metadata.id) if session.metadata.id else None
    org = session.metadata.org
    for field in RUNNER_FIELDS:
        value = getattr(session.spec, field)
        if not value or (stored is not None and getattr(stored.spec, field) == value):
            continue
        if await tx.sessions_holding(field, value, outside_org=org):
            what = field.removesuffix("_id")
            raise NotFound(f"{what} of org {org!r}", value, field=f"spec.{field}")


class SkillRules(Rules):
    def validate(self, resource: Any) -> None:
        super().validate(resource)
        if not resource.spec.markdown_content.strip():
            raise InvalidArgument("spec.markdown_content", "required: the SKILL.md body")


class EnvironmentRules(Rules):
    def validate(self, resource: Any) -> None:
        super().validate(resource)
        check_env_names(resource.spec.data, "spec.data")


class McpServerRules(Rules):
    def validate(self, resource: Any) -> None:
        super().validate(resource)
        check_mcp_server_spec(resource.spec)


class AgentExecutionRules(Rules):
    """Executions are created by the execution service; `update` may touch metadata only."""

    def check_update(self, stored: Any, incoming: Any) -> None:
        if incoming.spec != stored.spec:
            raise InvalidArgument("spec", "an execution's spec cannot change after create")

    def check_delete(self, stored: Any) -> None:
        if not is_final(stored.status.phase):
            raise FailedPrecondition(
                f"AgentExecution {stored.metadata.id!r} is still running: cancel it first"
            )
