"""One turn (ExecuteGraphton), every step of ARCHITECTURE section 5 in order.

The turn owns its `TurnStatus` from its first step, so whatever goes wrong is recorded on
the execution before the error goes back to Temporal. Errors go back redacted and without
their cause chain: Temporal keeps them in its history, where no secret may go.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from langchain_core.messages import BaseMessage, HumanMessage
from langchain_core.runnables import RunnableConfig
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Command
from opentelemetry import trace
from temporalio.exceptions import ApplicationError

from agent_runner.agent import RECURSION_LIMIT, AgentPlan, TurnTools, gated_tools
from agent_runner.approvals import (
    check_decided_calls_answered,
    mark_waiting,
    resume_command,
    tool_schemas,
)
from agent_runner.clients import StigmerClients, require_id
from agent_runner.config import TurnSettings
from agent_runner.environment import Redactor
from agent_runner.errors import ERROR_TURN, classify
from agent_runner.graphs import AgentGraphs, bound_backend
from agent_runner.mcp.turn_tools import open_turn_tools
from agent_runner.models import check_key_destinations
from agent_runner.observer import TurnObserver
from agent_runner.resolve import Resolved, resolve, skills_for, turn_environment
from agent_runner.sandbox import Sandbox, SandboxProvider, SandboxRequest, check_spec
from agent_runner.skills import skill_entries, write_skills
from agent_runner.status import STREAM_MODES, Superseded, TurnStatus
from ai.stigmer.agentic.agent.v1.api_pb2 import Agent
from ai.stigmer.agentic.agent.v1.spec_pb2 import ApprovalDecisionType
from ai.stigmer.agentic.agentexecution.v1.api_pb2 import AgentExecution
from ai.stigmer.agentic.agentexecution.v1.enum_pb2 import ExecutionPhase
from stigmer_contracts import ApprovalDecision, PendingApproval, TurnOutcome
from stigmer_telemetry.tracing import tracing_enabled

logger = logging.getLogger(__name__)
_tracer = trace.get_tracer("agent_runner")


@dataclass(frozen=True)
class AttemptContext:
    """What Temporal tells the turn about this attempt; plain values so tests can pass them."""

    # Temporal's attempt number (for logs) and the fencing token the status is written with.
    attempt: int
    token: int
    final_attempt: bool
    # True when the cancel came from the workflow (a user's cancel); False when Temporal
    # took the attempt away (heartbeat timeout, worker shutdown) and will retry it.
    cancel_requested: Callable[[], bool]


def human_message_id(execution_id: str) -> str:
    return f"{execution_id}-human"


class Turn:
    def __init__(
        self,
        *,
        clients: StigmerClients,
        sandboxes: SandboxProvider,
        graphs: AgentGraphs,
        settings: TurnSettings,
        execution_id: str,
        thread_id: str,
        context: AttemptContext,
        decisions: Sequence[ApprovalDecision] = (),
    ) -> None:
        self._clients = clients
        self._sandboxes = sandboxes
        self._graphs = graphs
        self._settings = settings
        self._id = execution_id
        self._thread_id = thread_id
        self._context = context
        # Decisions on the calls the previous run of this turn stopped at.
        self._decisions = decisions
        # Known once the turn has resolved its agent: the label of the turn's metrics.
        self.agent_slug = ""

    async def run(self) -> TurnOutcome:
        require_id("execution_id", self._id)
        require_id("thread_id", self._thread_id)
        execution = await self._clients.get_execution(self._id)
        self._log_entry(execution)
        require_id("execution.spec.session_id", execution.spec.session_id)
        status = TurnStatus(
            execution_id=self._id,
            sink=self._clients,
            previews=self._clients.stream_previews,
            policy=self._settings.flush,
            attempt=self._context.token,
            # The execution as read here has its secrets masked; their values arrive with
            # the turn context (`_turn`), which sets the redactor before anything can show them.
            redact=Redactor(()),
        )
        status.builder.start(
            message_id=human_message_id(self._id),
            message=execution.spec.message,
            first_attempt=not execution.status.HasField("started_at"),
        )
        if execution.status.HasField("error"):
            status.builder.clear_error()
        # A retry goes on from the usage earlier attempts already recorded.
        status.builder.seed_usage(execution.status)
        async with status.publishing():
            try:
                waiting = await self._turn(execution, status)
            except asyncio.CancelledError:
                await self._cancelled(status)
                raise
            except Superseded as superseded:
                logger.warning(
                    "execution %s: attempt %d stops: %s",
                    self._id,
                    self._context.attempt,
                    superseded,
                )
                raise ApplicationError(str(superseded), type=ERROR_TURN) from None
            except Exception as exc:
                raise await self._failed(exc, status) from None
            if waiting:
                await status.awaiting_approval()
                return TurnOutcome(
                    phase=ExecutionPhase.EXECUTION_AWAITING_APPROVAL, approvals=tuple(waiting)
                )
            await status.completed()
        return TurnOutcome(phase=ExecutionPhase.EXECUTION_COMPLETED)

    def _log_entry(self, execution: AgentExecution) -> None:
        spec = execution.spec
        logger.info(
            "ExecuteGraphton execution_id=%r session_id=%r (empty=%s) thread_id=%r "
            "attempt=%d token=%d message_chars=%d runtime_env=%s",
            self._id,
            spec.session_id,
            not spec.session_id,
            self._thread_id,
            self._context.attempt,
            self._context.token,
            len(spec.message),
            sorted(spec.runtime_env),
        )

    async def _cancelled(self, status: TurnStatus) -> None:
        if not self._context.cancel_requested():
            # Not the user's cancel: a retry resumes the turn from its checkpoint, so the
            # phase must stay open.
            logger.warning(
                "execution %s: attempt %d taken away by Temporal; it will be retried",
                self._id,
                self._context.attempt,
            )
            return
        logger.info("execution %s: cancelled", self._id)
        await status.cancelled()

    async def _failed(self, exc: Exception, status: TurnStatus) -> ApplicationError:
        """Record the failure; the error to raise, redacted, with the retry decision."""
        error = classify(exc)
        final = error.non_retryable or self._context.final_attempt
        message = status.builder.redact(error.message)
        logger.warning(
            "execution %s: attempt %d failed (%s, %s): %s",
            self._id,
            self._context.attempt,
            error.type,
            "final" if final else "will be retried",
            message,
        )
        with contextlib.suppress(Superseded):
            await status.failed(message, final=final)
        return ApplicationError(
            message,
            type=error.type,
            non_retryable=error.non_retryable,
            next_retry_delay=error.next_retry_delay,
        )

    async def _turn(self, execution: AgentExecution, status: TurnStatus) -> list[PendingApproval]:
        """Run the turn; the calls it stopped at for approval (empty when it ended)."""
        # One span per phase (no-ops unless tracing is on), under Temporal's RunActivity span.
        with _tracer.start_as_current_span("resolve"):
            resolved = await resolve(self._clients, execution)
            merged = turn_environment(resolved)
        self.agent_slug = resolved.agent.metadata.slug
        redact = merged.redactor()
        status.builder.set_redactor(redact)
        plan = self._plan(resolved)
        models = [plan.model, *(sub.model or plan.model for sub in resolved.agent.spec.sub_agents)]
        check_key_destinations(models, merged.origins)
        with _tracer.start_as_current_span("sandbox") as span:
            sandbox = await self._sandbox(resolved, merged.variables, redact)
            span.set_attribute("stigmer.sandbox.backend", self._sandboxes.kind)
        with _tracer.start_as_current_span("skills"):
            skills = [*plan.skills, *(s for v in plan.subagent_skills.values() for s in v)]
            await write_skills(sandbox.backend, skills)
        # MCP sessions close with this stack: when the turn ends, fails or is cancelled.
        async with contextlib.AsyncExitStack() as stack:
            tools = await self._mcp_tools(stack, resolved, merged.variables, sandbox)
            with bound_backend(sandbox.backend):
                with _tracer.start_as_current_span("build agent"):
                    graph = self._graphs.graph(
                        agent=resolved.agent,
                        plan=plan,
                        env=merged.variables,
                        backend=sandbox.backend,
                        tools=tools,
                    )
                with _tracer.start_as_current_span("stream"):
                    await self._stream(
                        graph, execution, status, gated=gated_tools(resolved.agent, tools)
                    )
                return await self._waiting(graph, resolved.agent, status)

    async def _waiting(
        self,
        graph: CompiledStateGraph[Any, Any, Any, Any],
        agent: Agent,
        status: TurnStatus,
    ) -> list[PendingApproval]:
        """The calls the graph stopped at, marked on the status as waiting for approval."""
        state = await graph.aget_state({"configurable": {"thread_id": self._thread_id}})
        if not state.interrupts:
            return []
        waiting = mark_waiting(
            state.interrupts, agent=agent, items=status.builder.items, schemas=tool_schemas(graph)
        )
        logger.info(
            "execution %s: %d call(s) wait for approval: %s",
            self._id,
            len(waiting),
            [f"{call.tool_name}:{call.tool_call_id}" for call in waiting],
        )
        return waiting

    async def _sandbox(
        self, resolved: Resolved, env: Mapping[str, str], redact: Redactor
    ) -> Sandbox:
        spec = resolved.agent.spec.sandbox
        check_spec(spec, self._sandboxes)
        sandbox = await self._sandboxes.acquire(
            SandboxRequest(
                session_id=resolved.session.metadata.id,
                sandbox_id=resolved.session.spec.sandbox_id,
                env=env,
                redact=redact,
                org=resolved.session.metadata.org,
                spec=spec,
            )
        )
        if sandbox.id != resolved.session.spec.sandbox_id:
            await self._store_sandbox(resolved, sandbox.id)
        return sandbox

    async def _mcp_tools(
        self,
        stack: contextlib.AsyncExitStack,
        resolved: Resolved,
        variables: Mapping[str, str],
        sandbox: Sandbox,
    ) -> TurnTools | None:
        """The MCP servers' tools for this turn; None when the agent uses no MCP server."""
        if not resolved.mcp_servers:
            return None
        with _tracer.start_as_current_span("mcp servers"):
            return await open_turn_tools(
                stack,
                agent=resolved.agent,
                servers=resolved.mcp_servers,
                variables=variables,
                sandbox=sandbox.backend,
            )

    def _plan(self, resolved: Resolved) -> AgentPlan:
        agent = resolved.agent
        return AgentPlan(
            model=agent.spec.model or self._settings.default_model,
            skills=skill_entries(skills_for(resolved, list(agent.spec.skill_refs))),
            subagent_skills={
                sub.name: skill_entries(skills_for(resolved, list(sub.skill_refs)))
                for sub in agent.spec.sub_agents
            },
        )

    async def _store_sandbox(self, resolved: Resolved, sandbox_id: str) -> None:
        session = await self._clients.get_session(resolved.session.metadata.id)
        session.spec.sandbox_id = sandbox_id
        await self._clients.update_session(session)
        logger.info("session %s: sandbox %s stored", session.metadata.id, sandbox_id)

    async def _stream(
        self,
        graph: CompiledStateGraph[Any, Any, Any, Any],
        execution: AgentExecution,
        status: TurnStatus,
        *,
        gated: frozenset[str],
    ) -> None:
        observer = TurnObserver(tracing=tracing_enabled())
        config: RunnableConfig = {
            "configurable": {"thread_id": self._thread_id},
            "metadata": {"execution_id": self._id},
            "recursion_limit": RECURSION_LIMIT,
            "callbacks": [observer],
        }
        state = await graph.aget_state({"configurable": {"thread_id": self._thread_id}})
        same_turn = (state.metadata or {}).get("execution_id") == self._id
        turn_input: dict[str, Any] | Command[Any] | None
        if same_turn:
            status.builder.seed(
                _this_turn(state.values.get("messages", []), self._id),
                state.values.get("todos") or [],
            )
            # `next` leaves out the tasks whose writes are already saved: a checkpoint whose
            # step finished before its successor was saved has an empty `next` but still has
            # tasks. Only no tasks at all means the turn ended.
            if not state.tasks:
                # Decided calls that never got a result: the graph has no approval step
                # left to resume (the agent's rules changed while the turn waited).
                check_decided_calls_answered(state.values.get("messages", []), self._decisions)
                logger.info(
                    "execution %s: the checkpoint holds the finished turn; not re-running it",
                    self._id,
                )
                return
            command = resume_command(state.interrupts, self._decisions, gated=gated)
            logger.info(
                "execution %s: resuming from the checkpoint before %s%s",
                self._id,
                [task.name for task in state.tasks],
                f" with {len(self._decisions)} decision(s)" if command is not None else "",
            )
            if command is not None:
                status.builder.items.rejected.update(
                    d.tool_call_id
                    for d in self._decisions
                    if d.type == ApprovalDecisionType.APPROVAL_DECISION_REJECT
                )
            turn_input = command
        else:
            message = HumanMessage(content=execution.spec.message, id=human_message_id(self._id))
            turn_input = {"messages": [message]}
        await status.flush()
        # Pregel.astream is an async generator; its annotation only promises an iterator.
        stream: AsyncGenerator[Any, None] = graph.astream(  # type: ignore[assignment]
            turn_input,
            config,
            stream_mode=list(STREAM_MODES),
            subgraphs=True,
            durability="sync",
        )
        # Closed explicitly: a cancelled consumer alone leaves the graph's tasks (a running
        # command among them) alive until the generator happens to be garbage-collected.
        try:
            async with contextlib.aclosing(stream):
                async for namespace, mode, payload in stream:
                    await status.event(namespace, mode, payload)
        finally:
            observer.close()


def _this_turn(messages: list[BaseMessage], execution_id: str) -> list[BaseMessage]:
    """The messages after this turn's human message (a resumed attempt's earlier progress)."""
    human = human_message_id(execution_id)
    for index in range(len(messages) - 1, -1, -1):
        if messages[index].id == human:
            return messages[index + 1 :]
    return []
