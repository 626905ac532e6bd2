"""Executions: create (and start the turn), status updates and previews, cancel, watch."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from ai.stigmer.agentic.agent.v1.api_pb2 import Agent
from ai.stigmer.agentic.agentexecution.v1.api_pb2 import AgentExecution
from ai.stigmer.agentic.agentexecution.v1.enum_pb2 import ExecutionPhase
from ai.stigmer.agentic.agentexecution.v1.io_pb2 import (
    AgentExecutionEvent,
    AgentExecutionPreview,
    AgentExecutionPreviewResult,
    AgentExecutionStatusUpdate,
    AgentExecutionStatusUpdateResult,
    ListAgentExecutionsBySessionRequest,
    SubscribeAgentExecutionRequest,
    ToolCallDecisions,
)
from ai.stigmer.agentic.agentexecution.v1.status_pb2 import AgentExecutionStatus
from ai.stigmer.agentic.agentinstance.v1.api_pb2 import AgentInstance
from ai.stigmer.agentic.agentinstance.v1.spec_pb2 import AgentInstanceSpec
from ai.stigmer.agentic.session.v1.api_pb2 import Session
from ai.stigmer.agentic.session.v1.spec_pb2 import SessionSpec
from ai.stigmer.commons.apiresource.io_pb2 import ListRequest
from ai.stigmer.commons.apiresource.metadata_pb2 import ApiResourceMetadata
from stigmer_server import resources as kinds
from stigmer_server.api._crud import ResourceService
from stigmer_server.api._rules import require
from stigmer_server.config import SessionPolicy
from stigmer_server.errors import FailedPrecondition, InvalidArgument, NotFound, Unavailable
from stigmer_server.execution._approvals import check_decisions
from stigmer_server.execution._hub import ExecutionHub
from stigmer_server.execution._temporal import TemporalGateway
from stigmer_server.execution._turns import SessionTurns
from stigmer_server.execution._watch import Watch
from stigmer_server.execution._writer import StatusWriter
from stigmer_server.iam import assign_org, check_writable
from stigmer_server.metrics import METRICS
from stigmer_server.principal import current_principal
from stigmer_server.resources import API_VERSION
from stigmer_server.storage import Page, Transaction, typed
from stigmer_server.validation import check_env_names, check_id, check_sizes, slugify
from stigmer_server.workflows import ExecutionWorkflowInput
from stigmer_status import is_final

logger = logging.getLogger(__name__)

_SUBJECT_LENGTH = 80


class ExecutionService:
    def __init__(
        self,
        executions: ResourceService,
        instances: ResourceService,
        sessions: ResourceService,
        hub: ExecutionHub,
        writer: StatusWriter,
        temporal: TemporalGateway,
        turns: SessionTurns,
        policy: SessionPolicy,
    ) -> None:
        self._executions = executions
        self._instances = instances
        self._sessions = sessions
        self._store = executions.store
        self._hub = hub
        self._writer = writer
        self._temporal = temporal
        self._turns = turns
        self._policy = policy
        self._watch = Watch(executions, executions.store, hub)

    async def create(self, request: AgentExecution) -> AgentExecution:
        execution: AgentExecution = self._executions.prepare_new(request)
        spec = execution.spec
        if not spec.message.strip():
            raise InvalidArgument("spec.message", "required: the user's turn")
        if not spec.session_id and not spec.agent_id:
            raise InvalidArgument(
                "spec.session_id",
                "required: a session id, or spec.agent_id alone for a new session",
            )
        check_env_names(spec.runtime_env, "spec.runtime_env")
        async with self._store.transaction() as tx:
            if spec.session_id:
                must_wait = await self._join_session(tx, execution)
            else:
                await self._open_session(tx, execution)
                must_wait = False
            execution.status.phase = ExecutionPhase.EXECUTION_PENDING
            # Creation is the first numbered change, so a watcher with after_sequence=0
            # always receives a snapshot.
            execution.status.sequence = 1
            await tx.insert(kinds.AGENT_EXECUTION, execution)
        execution_id = execution.metadata.id
        METRICS.turns_created.inc()
        logger.info("created execution %s in session %s", execution_id, spec.session_id)
        workflow_input = ExecutionWorkflowInput(
            execution_id=execution_id,
            session_id=spec.session_id,
            agent_id=spec.agent_id,
            wait_for_session=must_wait,
            options=self._temporal.options(),
        )
        # Shielded: a client that gives up now must not leave a stored turn never started
        # and never failed.
        await asyncio.shield(self._start(workflow_input))
        return execution

    async def _start(self, workflow_input: ExecutionWorkflowInput) -> None:
        execution_id = workflow_input.execution_id
        try:
            await self._temporal.start(workflow_input)
        except Unavailable as error:
            logger.error("execution %s could not start: %s", execution_id, error)
            failed = AgentExecutionStatus(phase=ExecutionPhase.EXECUTION_FAILED, error=str(error))
            await self._writer.apply(execution_id, failed)
            await self._turns.release(execution_id)
            raise

    async def update_status(
        self, update: AgentExecutionStatusUpdate
    ) -> AgentExecutionStatusUpdateResult:
        if not update.HasField("status"):
            raise InvalidArgument("status", "required: the status change to merge")
        await self._check_writer(update.execution_id)
        started = time.monotonic()
        result = await self._writer.apply(
            update.execution_id,
            update.status,
            attempt=update.attempt,
            attempt_sequence=update.attempt_sequence,
        )
        METRICS.status_update_seconds.observe(time.monotonic() - started)
        METRICS.status_updates.labels("true" if result.applied else "false").inc()
        return result

    async def stream_previews(
        self, previews: AsyncIterator[AgentExecutionPreview]
    ) -> AgentExecutionPreviewResult:
        result = AgentExecutionPreviewResult()
        checked: set[str] = set()
        async for message in previews:
            check_id(message.execution_id, "execution_id", kinds.AGENT_EXECUTION)
            if message.execution_id not in checked:
                await self._check_writer(message.execution_id)
                checked.add(message.execution_id)
            if not message.attempt:
                raise InvalidArgument("attempt", "required: the writer's attempt")
            check_sizes(message.preview, "preview")
            hub = self._hub
            if await hub.publish_preview(message.execution_id, message.attempt, message.preview):
                result.published += 1
            else:
                result.dropped += 1
        return result

    async def cancel(self, execution_id: str) -> AgentExecution:
        execution: AgentExecution = await self._executions.get(execution_id)
        check_writable(kinds.AGENT_EXECUTION.name, execution)
        if is_final(execution.status.phase):
            return execution
        running = await self._temporal.cancel(execution_id)
        logger.info("cancel requested for %s (workflow running: %s)", execution_id, running)
        # Recorded now, not only when the workflow settles, so the answer is final. The
        # session stays held until the workflow has stopped the turn and settles it.
        await self._writer.apply(
            execution_id, AgentExecutionStatus(phase=ExecutionPhase.EXECUTION_CANCELLED)
        )
        if not running:
            await self._turns.release(execution_id)
        result: AgentExecution = await self._executions.get(execution_id)
        return result

    async def _check_writer(self, execution_id: str) -> None:
        """An org's key (a runner of that org) writes its org's turns only: another org's is
        NOT_FOUND, a platform-scope one's PERMISSION_DENIED. A platform key may write any,
        so the usual runner's updates cost no extra read."""
        if current_principal().platform:
            return
        check_id(execution_id, "execution_id", kinds.AGENT_EXECUTION)
        execution = await self._store.get(kinds.AGENT_EXECUTION, execution_id)
        if execution is None:
            raise NotFound("AgentExecution", execution_id, field="execution_id")
        check_writable(kinds.AGENT_EXECUTION.name, execution)

    async def decide(self, request: ToolCallDecisions) -> AgentExecution:
        """Decisions on calls waiting for approval: checked, then sent to the workflow, which
        records them (with who and when) before this answers."""
        execution_id = check_id(request.execution_id, "execution_id", kinds.AGENT_EXECUTION)
        execution: AgentExecution = await self._executions.get(execution_id)
        check_writable(kinds.AGENT_EXECUTION.name, execution)
        principal = current_principal()
        batch = check_decisions(execution, request, principal.key_id)
        waiting = await self._temporal.decide(execution_id, batch)
        logger.info(
            "execution %s: %d decision(s) by %s; %d call(s) still waiting",
            execution_id,
            len(batch.decisions),
            principal.key_id,
            waiting,
        )
        result: AgentExecution = await self._executions.get(execution_id)
        return result

    async def list_by_session(self, request: ListAgentExecutionsBySessionRequest) -> Page:
        session_id = check_id(request.session_id, "session_id", kinds.SESSION)
        if await self._store.get(kinds.SESSION, session_id) is None:
            raise NotFound("Session", session_id, field="session_id")
        return await self._executions.list(
            ListRequest(page_size=request.page_size, page_token=request.page_token),
            session_id=session_id,
        )

    async def subscribe(
        self, request: SubscribeAgentExecutionRequest
    ) -> AsyncIterator[AgentExecutionEvent]:
        execution_id = check_id(request.execution_id, "execution_id", kinds.AGENT_EXECUTION)
        if request.after_sequence < 0:
            raise InvalidArgument(
                "after_sequence", f"expected 0 or more, got {request.after_sequence}"
            )
        # Fails with NotFound before the stream starts when there is no such execution.
        await self._executions.get(execution_id)
        async for event in self._watch.events(execution_id, request.after_sequence):
            yield event

    async def _join_session(self, tx: Transaction, execution: AgentExecution) -> bool:
        """Check the session and its policy; True when the turn must wait for earlier ones."""
        spec = execution.spec
        # Locking the session row serialises turns of one session across servers.
        session = typed(await tx.get(kinds.SESSION, spec.session_id, for_update=True), Session)
        if session is None:
            raise NotFound("Session", spec.session_id, field="spec.session_id")
        instance: AgentInstance = await require(
            tx,
            kinds.AGENT_INSTANCE,
            session.spec.agent_instance_id,
            "session.spec.agent_instance_id",
        )
        if spec.agent_id and spec.agent_id != instance.spec.agent_id:
            raise InvalidArgument(
                "spec.agent_id",
                f"session {spec.session_id!r} runs agent {instance.spec.agent_id!r}, "
                f"not {spec.agent_id!r}",
            )
        spec.agent_id = instance.spec.agent_id
        # A turn belongs where its session does, so listing by org finds it.
        execution.metadata.org = session.metadata.org
        execution.metadata.owner_scope = session.metadata.owner_scope
        holders = await self._turns.holders(tx, spec.session_id)
        if holders and self._policy == SessionPolicy.REJECT:
            raise FailedPrecondition(
                f"spec.session_id: session {spec.session_id!r} is still running execution "
                f"{holders[0]!r} (session policy reject)"
            )
        # Ids grow with creation time, so no earlier turn holding the session can appear
        # later: a turn that finds none now never needs to wait.
        return bool(holders)

    async def _open_session(self, tx: Transaction, execution: AgentExecution) -> None:
        spec = execution.spec
        agent = typed(await tx.get(kinds.AGENT, spec.agent_id, for_update=True), Agent)
        if agent is None:
            raise NotFound("Agent", spec.agent_id, field="spec.agent_id")
        instance_id = await self._default_instance(tx, agent)
        session = self._sessions.prepare_new(
            Session(
                api_version=API_VERSION,
                kind=kinds.SESSION.name,
                metadata=_child_metadata(agent),
                spec=SessionSpec(
                    agent_instance_id=instance_id, subject=spec.message[:_SUBJECT_LENGTH]
                ),
            )
        )
        await self._sessions.insert(tx, session)
        spec.session_id = session.metadata.id
        # The session's org: the caller's, when an org's member runs a platform agent.
        execution.metadata.org = session.metadata.org
        execution.metadata.owner_scope = session.metadata.owner_scope

    async def _default_instance(self, tx: Transaction, agent: Agent) -> str:
        """The agent's default instance, created (once) and recorded in its status."""
        current = agent.status.default_instance_id
        if current and await tx.get(kinds.AGENT_INSTANCE, current) is not None:
            return current
        metadata = _child_metadata(agent)
        # Where the instance will be: the caller's org when an org's member runs a platform
        # agent, so the slug is looked up there.
        assign_org(metadata)
        metadata.name = f"{agent.metadata.name} (default)"
        slug = slugify(f"{agent.metadata.slug}-default")
        taken = typed(
            await tx.get_by_slug(kinds.AGENT_INSTANCE, metadata.owner_scope, metadata.org, slug),
            AgentInstance,
        )
        if taken is not None and taken.spec.agent_id == agent.metadata.id:
            # This org's default instance of a platform agent whose recorded default is
            # another org's (invisible here): reuse it.
            return str(taken.metadata.id)
        if taken is not None:
            slug = ""  # taken by a user's instance: fall back to the id
        metadata.slug = slug
        instance: Any = self._instances.prepare_new(
            AgentInstance(
                api_version=API_VERSION,
                kind=kinds.AGENT_INSTANCE.name,
                metadata=metadata,
                spec=AgentInstanceSpec(
                    agent_id=agent.metadata.id, description="created for agent-only runs"
                ),
            )
        )
        await self._instances.insert(tx, instance)
        agent.status.default_instance_id = instance.metadata.id
        await tx.replace(kinds.AGENT, agent)
        logger.info("agent %s: default instance %s", agent.metadata.id, instance.metadata.id)
        return str(instance.metadata.id)


def _child_metadata(agent: Agent) -> ApiResourceMetadata:
    return ApiResourceMetadata(org=agent.metadata.org, owner_scope=agent.metadata.owner_scope)
