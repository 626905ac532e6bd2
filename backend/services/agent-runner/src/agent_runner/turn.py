"""One turn (ExecuteGraphton), every step of ARCHITECTURE section 5 in order.

The turn owns a `StatusBuilder` and a `StatusPublisher` from its first step, so whatever goes
wrong is recorded on the execution before the error goes back to Temporal.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from langchain_core.messages import BaseMessage, HumanMessage
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph.state import CompiledStateGraph

from agent_runner.agent import RECURSION_LIMIT, AgentPlan, build_agent
from agent_runner.clients import StigmerClients, require_id
from agent_runner.config import TurnSettings
from agent_runner.environment import Redactor
from agent_runner.errors import classify
from agent_runner.models import ModelFactory
from agent_runner.resolve import Resolved, resolve, skills_for, turn_environment
from agent_runner.sandbox import SandboxProvider, SandboxRequest, check_spec
from agent_runner.skills import skill_entries, write_skills
from agent_runner.status import STREAM_MODES, StatusBuilder, StatusPublisher
from ai.stigmer.agentic.agentexecution.v1.api_pb2 import AgentExecution
from ai.stigmer.agentic.agentexecution.v1.enum_pb2 import ExecutionPhase
from ai.stigmer.agentic.agentexecution.v1.status_pb2 import AgentExecutionStatus

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class AttemptContext:
    """What Temporal tells the turn about this attempt; plain values so tests can pass them."""

    attempt: int
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
        models: ModelFactory,
        checkpointer: BaseCheckpointSaver[str],
        settings: TurnSettings,
        execution: AgentExecution,
        thread_id: str,
        context: AttemptContext,
    ) -> None:
        self._clients = clients
        self._sandboxes = sandboxes
        self._models = models
        self._checkpointer = checkpointer
        self._settings = settings
        self._execution = execution
        self._thread_id = thread_id
        self._context = context
        self._id = execution.metadata.id

    async def run(self) -> AgentExecutionStatus:
        spec = self._execution.spec
        logger.info(
            "ExecuteGraphton execution_id=%r session_id=%r (empty=%s) thread_id=%r (empty=%s) "
            "attempt=%d message_chars=%d runtime_env=%s",
            self._id,
            spec.session_id,
            not spec.session_id,
            self._thread_id,
            not self._thread_id,
            self._context.attempt,
            len(spec.message),
            sorted(spec.runtime_env),
        )
        require_id("execution.metadata.id", self._id)
        require_id("execution.spec.session_id", spec.session_id)
        require_id("thread_id", self._thread_id)
        stored = await self._clients.get_execution(self._id)
        # Until the environment is known only the runtime layer's secrets can be redacted.
        redact = Redactor(v.value for v in spec.runtime_env.values() if v.is_secret)
        builder = StatusBuilder(redact=redact)
        publisher = StatusPublisher(
            execution_id=self._id,
            builder=builder,
            sink=self._clients,
            policy=self._settings.flush,
            last_sequence=stored.status.sequence,
        )
        builder.start(
            message_id=human_message_id(self._id),
            message=spec.message,
            first_attempt=not stored.status.HasField("started_at"),
        )
        if stored.status.HasField("error"):
            builder.clear_error()
        timer = asyncio.create_task(publisher.run_timer(), name=f"status-timer-{self._id}")
        try:
            await self._turn(builder, publisher)
        except asyncio.CancelledError:
            if not self._context.cancel_requested():
                # Not the user's cancel: a retry resumes the turn from its checkpoint, so the
                # phase must stay open.
                logger.warning(
                    "execution %s: attempt %d taken away by Temporal; it will be retried",
                    self._id,
                    self._context.attempt,
                )
                raise
            logger.info("execution %s: cancelled", self._id)
            builder.finish(ExecutionPhase.EXECUTION_CANCELLED, "the turn was cancelled")
            await _shielded(publisher.close)
            raise
        except Exception as exc:
            error = classify(exc)
            final = error.non_retryable or self._context.final_attempt
            logger.warning(
                "execution %s: attempt %d failed (%s, %s): %s",
                self._id,
                self._context.attempt,
                error.type,
                "final" if final else "will be retried",
                builder.redact(str(error)),
            )
            # A retryable failure keeps the phase open, or the retry could never complete it.
            builder.record_error(str(error), final=final)
            await _shielded(publisher.close)
            if error is exc:
                raise
            raise error from exc
        finally:
            timer.cancel()
            (result,) = await asyncio.gather(timer, return_exceptions=True)
            if isinstance(result, Exception):
                logger.error("execution %s: the status timer died: %r", self._id, result)
        builder.finish(ExecutionPhase.EXECUTION_COMPLETED)
        await publisher.close()
        logger.info(
            "execution %s: completed with %d status updates (%d bytes)",
            self._id,
            publisher.updates_sent,
            publisher.bytes_sent,
        )
        return builder.final_status()

    async def _turn(self, builder: StatusBuilder, publisher: StatusPublisher) -> None:
        resolved = await resolve(self._clients, self._execution)
        merged = turn_environment(resolved, self._execution)
        redact = merged.redactor()
        builder.set_redactor(redact)
        spec = resolved.agent.spec.sandbox
        check_spec(spec, self._sandboxes)
        sandbox = await self._sandboxes.acquire(
            SandboxRequest(
                session_id=resolved.session.metadata.id,
                sandbox_id=resolved.session.spec.sandbox_id,
                env=merged.variables,
                redact=redact,
                org=resolved.session.metadata.org,
                spec=spec,
            )
        )
        if sandbox.id != resolved.session.spec.sandbox_id:
            await self._store_sandbox(resolved, sandbox.id)
        plan = self._plan(resolved)
        await write_skills(
            sandbox.backend, [*plan.skills, *(s for v in plan.subagent_skills.values() for s in v)]
        )
        graph = build_agent(
            agent=resolved.agent,
            plan=plan,
            models=self._models,
            env=merged.variables,
            backend=sandbox.backend,
            checkpointer=self._checkpointer,
        )
        await self._stream(graph, builder, publisher)

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
        builder: StatusBuilder,
        publisher: StatusPublisher,
    ) -> None:
        config: RunnableConfig = {
            "configurable": {"thread_id": self._thread_id},
            "metadata": {"execution_id": self._id},
            "recursion_limit": RECURSION_LIMIT,
        }
        state = await graph.aget_state({"configurable": {"thread_id": self._thread_id}})
        same_turn = (state.metadata or {}).get("execution_id") == self._id
        turn_input: dict[str, Any] | None
        if same_turn:
            builder.seed(
                _this_turn(state.values.get("messages", []), self._id),
                state.values.get("todos") or [],
            )
            if not state.next:
                logger.info(
                    "execution %s: the checkpoint holds the finished turn; not re-running it",
                    self._id,
                )
                return
            logger.info(
                "execution %s: resuming from the checkpoint before %s", self._id, state.next
            )
            turn_input = None
        else:
            message = HumanMessage(
                content=self._execution.spec.message, id=human_message_id(self._id)
            )
            turn_input = {"messages": [message]}
        await publisher.flush()
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
        async with contextlib.aclosing(stream):
            async for namespace, mode, payload in stream:
                await publisher.event(immediate=builder.handle(namespace, mode, payload))


def _this_turn(messages: list[BaseMessage], execution_id: str) -> list[BaseMessage]:
    """The messages after this turn's human message (a resumed attempt's earlier progress)."""
    human = human_message_id(execution_id)
    for index in range(len(messages) - 1, -1, -1):
        if messages[index].id == human:
            return messages[index + 1 :]
    return []


async def _shielded(close: Callable[[], Awaitable[bool]]) -> None:
    # The final update must go out even while the turn's task is being cancelled.
    task = asyncio.ensure_future(close())
    try:
        await asyncio.shield(task)
    except asyncio.CancelledError:
        await task
        raise
