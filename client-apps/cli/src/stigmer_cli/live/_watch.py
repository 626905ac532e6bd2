"""Following an execution through `subscribe`, keeping a local copy with the shared merge code.

Previews (streamed text the runner sends ahead of its batched status updates) are shown as
soon as they arrive: the view passed to `on_change` is the stored copy with them appended
(`stigmer_status.LiveExecution`), and each delta replaces them with the stored text.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import grpc

from ai.stigmer.agentic.agentexecution.v1.api_pb2 import AgentExecution
from ai.stigmer.agentic.agentexecution.v1.io_pb2 import (
    AgentExecutionEvent,
    AgentExecutionId,
    SubscribeAgentExecutionRequest,
)
from ai.stigmer.agentic.agentexecution.v1.query_pb2_grpc import AgentExecutionQueryControllerStub
from stigmer_cli._errors import from_rpc_error, rpc_code
from stigmer_status import LiveExecution, SequenceGapError, is_final

logger = logging.getLogger(__name__)

# A server restarting (local mode's supervisor restarts a crashed one) is waited for.
_RECONNECT_WINDOW_SECONDS = 60.0
_RECONNECT_PAUSE_SECONDS = 0.5


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
        self.execution_id = execution_id
        self._on_change = on_change
        self._live = LiveExecution()

    @property
    def current(self) -> AgentExecution | None:
        """The stored copy (previews not included)."""
        return self._live.execution

    def follow(self, until: Callable[[AgentExecution], bool] | None = None) -> AgentExecution:
        """Apply events until the execution reaches a final phase, or `until` holds for it;
        reconnect after drops. Call again to go on from where it stopped."""
        failing_since: float | None = None
        while True:
            if self.current is not None and (
                is_final(self.current.status.phase) or (until is not None and until(self.current))
            ):
                return self.current
            try:
                self._stream_once(until)
            except SequenceGapError as gap:
                logger.debug("resubscribing from a snapshot: %s", gap)
                self._live.reset()
                continue
            except grpc.RpcError as error:
                now = time.monotonic()
                failing_since = failing_since or now
                if not _transient(error) or now - failing_since > _RECONNECT_WINDOW_SECONDS:
                    raise from_rpc_error(
                        error, address=self._address, action="follow the execution"
                    ) from None
                logger.debug("stream dropped (%s); reconnecting", rpc_code(error))
                time.sleep(_RECONNECT_PAUSE_SECONDS)
                continue
            failing_since = None
            if self.current is not None and not is_final(self.current.status.phase):
                # The stream ended without a final phase: read the stored execution once.
                self._refresh()

    def _stream_once(self, until: Callable[[AgentExecution], bool] | None = None) -> None:
        after = self.current.status.sequence if self.current is not None else 0
        request = SubscribeAgentExecutionRequest(
            execution_id=self._execution_id, after_sequence=after
        )
        stream = self._stub.subscribe(request)
        try:
            for event in stream:
                self._live.apply(event)
                view = self._live.view()
                if view is not None:
                    self._on_change(view)
                stored = self.current
                if until is not None and stored is not None and until(stored):
                    return
        finally:
            stream.cancel()  # also on Ctrl-C, so the server drops the watcher at once

    def _refresh(self) -> None:
        try:
            stored = self._stub.get(AgentExecutionId(value=self._execution_id))
        except grpc.RpcError as error:
            raise from_rpc_error(
                error, address=self._address, action="read the execution"
            ) from None
        self._live.reset()
        self._live.apply(AgentExecutionEvent(sequence=stored.status.sequence, snapshot=stored))
        self._on_change(stored)


def _transient(error: grpc.RpcError) -> bool:
    return rpc_code(error) in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.INTERNAL)
