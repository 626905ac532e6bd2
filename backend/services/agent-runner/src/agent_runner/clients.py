"""gRPC clients for the resources a turn reads and writes, over one channel per process.

Every call carries `authorization: Bearer <STIGMER_API_KEY>` through an interceptor (unary and
streaming alike), the channel uses TLS when the endpoint ends in `:443`, and every method
refuses an empty id before it calls anything.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

import grpc
from grpc import aio

from agent_runner.errors import InvalidInputError
from ai.stigmer.agentic.agentexecution.v1.api_pb2 import AgentExecution
from ai.stigmer.agentic.agentexecution.v1.command_pb2_grpc import (
    AgentExecutionCommandControllerStub,
)
from ai.stigmer.agentic.agentexecution.v1.io_pb2 import (
    AgentExecutionId,
    AgentExecutionPreview,
    AgentExecutionPreviewResult,
    AgentExecutionStatusUpdate,
    AgentExecutionStatusUpdateResult,
)
from ai.stigmer.agentic.agentexecution.v1.query_pb2_grpc import AgentExecutionQueryControllerStub
from ai.stigmer.agentic.runner.v1.io_pb2 import TurnContext, TurnContextRequest
from ai.stigmer.agentic.runner.v1.query_pb2_grpc import RunnerQueryControllerStub
from ai.stigmer.agentic.session.v1.api_pb2 import Session
from ai.stigmer.agentic.session.v1.command_pb2_grpc import SessionCommandControllerStub
from ai.stigmer.agentic.session.v1.io_pb2 import SessionId
from ai.stigmer.agentic.session.v1.query_pb2_grpc import SessionQueryControllerStub

API_VERSION = "agentic.stigmer.ai/v1"
_T = TypeVar("_T")


def require_id(field: str, value: str) -> str:
    if not value:
        raise InvalidInputError(f"{field} cannot be empty")
    return value


def _with_key(details: aio.ClientCallDetails, header: tuple[str, str]) -> aio.ClientCallDetails:
    metadata = aio.Metadata(*(details.metadata or ()))
    metadata.add(*header)
    return aio.ClientCallDetails(
        method=details.method,
        timeout=details.timeout,
        metadata=metadata,
        credentials=details.credentials,
        wait_for_ready=details.wait_for_ready,
    )


# One class per call kind on purpose: grpc.aio files an interceptor under the first call kind
# it matches, so one class implementing several interfaces would miss the others' calls.
class _UnaryBearerAuth(aio.UnaryUnaryClientInterceptor):
    def __init__(self, api_key: str) -> None:
        self._header = ("authorization", f"Bearer {api_key}")

    async def intercept_unary_unary(
        self,
        continuation: Callable[..., Any],
        client_call_details: aio.ClientCallDetails,
        request: Any,
    ) -> Any:
        return await continuation(_with_key(client_call_details, self._header), request)


class _StreamBearerAuth(aio.UnaryStreamClientInterceptor):
    def __init__(self, api_key: str) -> None:
        self._header = ("authorization", f"Bearer {api_key}")

    async def intercept_unary_stream(
        self,
        continuation: Callable[..., Any],
        client_call_details: aio.ClientCallDetails,
        request: Any,
    ) -> Any:
        return await continuation(_with_key(client_call_details, self._header), request)


class _ClientStreamBearerAuth(aio.StreamUnaryClientInterceptor):
    def __init__(self, api_key: str) -> None:
        self._header = ("authorization", f"Bearer {api_key}")

    async def intercept_stream_unary(
        self,
        continuation: Callable[..., Any],
        client_call_details: aio.ClientCallDetails,
        request_iterator: Any,
    ) -> Any:
        return await continuation(_with_key(client_call_details, self._header), request_iterator)


# A server replica going away, or restarting, is not the turn's failure: calls wait for a
# connection and are retried on UNAVAILABLE (every call is safe to repeat: reads, and status
# updates the server applies once per attempt number). The endpoint may list several
# replicas ("ipv4:host1:port,host2:port"); gRPC moves to the next when one is gone.
_SERVICE_CONFIG = json.dumps(
    {
        "methodConfig": [
            {
                "name": [{}],
                "waitForReady": True,
                "retryPolicy": {
                    "maxAttempts": 5,
                    "initialBackoff": "0.2s",
                    "maxBackoff": "3s",
                    "backoffMultiplier": 2,
                    "retryableStatusCodes": ["UNAVAILABLE"],
                },
            }
        ]
    }
)
_CHANNEL_OPTIONS = (("grpc.service_config", _SERVICE_CONFIG), ("grpc.enable_retries", 1))


def open_channel(endpoint: str, api_key: str) -> aio.Channel:
    interceptors: list[aio.ClientInterceptor] = [
        _UnaryBearerAuth(api_key),
        _StreamBearerAuth(api_key),
        _ClientStreamBearerAuth(api_key),
    ]
    if endpoint.endswith(":443"):
        return aio.secure_channel(
            endpoint,
            grpc.ssl_channel_credentials(),
            options=_CHANNEL_OPTIONS,
            interceptors=interceptors,
        )
    return aio.insecure_channel(endpoint, options=_CHANNEL_OPTIONS, interceptors=interceptors)


class StigmerClients:
    """Typed calls the runner makes; one instance (and channel) per process, closed at shutdown."""

    def __init__(self, channel: aio.Channel, *, timeout: float = 30.0) -> None:
        self._channel = channel
        self._timeout = timeout
        self._sessions = SessionQueryControllerStub(channel)
        self._session_commands = SessionCommandControllerStub(channel)
        self._executions = AgentExecutionQueryControllerStub(channel)
        self._execution_commands = AgentExecutionCommandControllerStub(channel)
        self._runner = RunnerQueryControllerStub(channel)

    @classmethod
    def connect(cls, endpoint: str, api_key: str) -> StigmerClients:
        return cls(open_channel(endpoint, api_key))

    async def close(self) -> None:
        await self._channel.close()

    async def get_session(self, session_id: str) -> Session:
        request = SessionId(value=require_id("session_id", session_id))
        return await self._sessions.get(request, timeout=self._timeout)

    async def update_session(self, session: Session) -> Session:
        require_id("session.metadata.id", session.metadata.id)
        outgoing = Session()
        outgoing.CopyFrom(session)
        outgoing.api_version = API_VERSION
        outgoing.kind = "Session"
        return await self._session_commands.update(outgoing, timeout=self._timeout)

    async def get_turn_context(self, execution_id: str) -> TurnContext:
        """The turn's execution, session, instance, agent, skills, environments and MCP
        servers in one read: the only one whose secret values come back in clear."""
        request = TurnContextRequest(execution_id=require_id("execution_id", execution_id))
        return await self._runner.getTurnContext(request, timeout=self._timeout)

    async def get_execution(self, execution_id: str) -> AgentExecution:
        request = AgentExecutionId(value=require_id("execution_id", execution_id))
        return await self._executions.get(request, timeout=self._timeout)

    async def update_status(
        self, update: AgentExecutionStatusUpdate
    ) -> AgentExecutionStatusUpdateResult:
        require_id("execution_id", update.execution_id)
        return await self._execution_commands.updateStatus(update, timeout=self._timeout)

    async def stream_previews(
        self, previews: AsyncIterator[AgentExecutionPreview]
    ) -> AgentExecutionPreviewResult:
        """One client stream of previews; it lasts as long as `previews` does."""
        return await self._execution_commands.streamPreviews(previews)
