"""Executions: the service, the status writer, the hub, and the Temporal side."""

from stigmer_server.execution._activities import PersistenceActivities
from stigmer_server.execution._hub import ExecutionHub
from stigmer_server.execution._service import ExecutionService
from stigmer_server.execution._temporal import TemporalGateway
from stigmer_server.execution._worker import run_workers, workflow_sandbox
from stigmer_server.execution._workflow import (
    AWAIT_SESSION_TURN,
    InvokeAgentExecutionWorkflow,
    TurnSettings,
)
from stigmer_server.execution._writer import StatusWriter

__all__ = [
    "AWAIT_SESSION_TURN",
    "ExecutionHub",
    "ExecutionService",
    "InvokeAgentExecutionWorkflow",
    "PersistenceActivities",
    "StatusWriter",
    "TemporalGateway",
    "TurnSettings",
    "run_workers",
    "workflow_sandbox",
]
