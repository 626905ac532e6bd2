"""A watcher like a client's: it keeps its copy from `subscribe` events and, when the stream
breaks, subscribes again with `after_sequence` = the last sequence it applied."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import grpc
from chaos_api import ChaosApi

from ai.stigmer.agentic.agentexecution.v1.api_pb2 import AgentExecution
from ai.stigmer.agentic.agentexecution.v1.io_pb2 import SubscribeAgentExecutionRequest
from stigmer_status import apply_event, is_final

# What a stream cut by a dying server ends with, depending on when in the call it died.
BROKEN = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL}


@dataclass
class Watcher:
    api: ChaosApi
    execution_id: str
    copy: AgentExecution | None = None
    events: int = 0
    resumes: int = 0
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def run(self) -> AgentExecution:
        """Watch until the copy is final; a sequence gap raises SequenceGapError."""
        while self.copy is None or not is_final(self.copy.status.phase):
            after = self.copy.status.sequence if self.copy is not None else 0
            request = SubscribeAgentExecutionRequest(
                execution_id=self.execution_id, after_sequence=after
            )
            try:
                stream = self.api.executions_q.subscribe(
                    request, metadata=self.api.metadata, wait_for_ready=True
                )
                async for event in stream:
                    self.copy = apply_event(self.copy, event)
                    self.events += 1
                    self.changed.set()
            except grpc.aio.AioRpcError as exc:
                if exc.code() not in BROKEN:
                    raise
            if self.copy is None or not is_final(self.copy.status.phase):
                self.resumes += 1
        return self.copy
