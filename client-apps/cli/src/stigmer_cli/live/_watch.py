"""Following an execution through `subscribe`, keeping a local copy with the shared merge code."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import grpc

from ai.stigmer.agentic.agentexecution.v1.api_pb2 import AgentExecution
from ai.stigmer.agentic.agentexecution.v1.io_pb2 import (
    AgentExecutionId,
    SubscribeAgentExecutionRequest,
)
from ai.stigmer.agentic.agentexecution.v1.query_pb2_grpc import AgentExecutionQueryControllerStub
from stigmer_cli._errors import from_rpc_error, rpc_code
from stigmer_status import SequenceGapError, apply_event, is_final

logger = logging.getLogger(__name__)

_RECONNECT_ATTEMPTS = 5


class Watcher:
    """Holds the latest copy of one execution; `follow` resumes where it stopped."""

    def __init__(
        self,
        channel: grpc.Channel,
        address: str,
        execution_id: str,
        on_change: Callable[[AgentExecution], None],
    ) -> None:
        self._stub = AgentExecutionQueryControllerStub(channel)
        self._address = address
        self._execution_id = execution_id
        self._on_change = on_change
        self.current: AgentExecution | None = None

    @property
    def finished(self) -> bool:
        return self.current is not None and is_final(self.current.status.phase)

    def follow(self) -> AgentExecution:
        """Apply events until the execution reaches a final phase; reconnect after drops."""
        failures = 0
        while not self.finished:
            after = self.current.status.sequence if self.current is not None else 0
            request = SubscribeAgentExecutionRequest(
                execution_id=self._execution_id, after_sequence=after
            )
            stream = self._stub.subscribe(request)
            try:
                for event in stream:
                    self.current = apply_event(self.current, event)
                    self._on_change(self.current)
                    failures = 0
            except SequenceGapError as gap:
                logger.debug("resubscribing from a snapshot: %s", gap)
                self.current = None
            except grpc.RpcError as error:
                failures += 1
                if failures > _RECONNECT_ATTEMPTS or not _transient(error):
                    raise from_rpc_error(
                        error, address=self._address, action="follow the execution"
                    ) from None
                time.sleep(min(2.0, 0.2 * 2**failures))
            finally:
                stream.cancel()
            if not self.finished and self.current is not None:
                # The stream ended without a final phase: read the stored execution once.
                self.current = self._stub.get(AgentExecutionId(value=self._execution_id))
                self._on_change(self.current)
        assert self.current is not None
        return self.current


def _transient(error: grpc.RpcError) -> bool:
    return rpc_code(error) in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.INTERNAL)
