"""Executions: the service, the status writer, the hub, turn order and the Temporal side."""

from stigmer_server.execution._activities import PersistenceActivities
from stigmer_server.execution._broadcast import PostgresBroadcaster, libpq_dsn
from stigmer_server.execution._hub import ExecutionHub
from stigmer_server.execution._reconciler import Reconciler
from stigmer_server.execution._service import ExecutionService
from stigmer_server.execution._temporal import TemporalGateway
from stigmer_server.execution._turns import SessionTurns
from stigmer_server.execution._worker import run_workers, workflow_sandbox
from stigmer_server.execution._writer import StatusWriter

__all__ = [
    "ExecutionHub",
    "ExecutionService",
    "PersistenceActivities",
    "PostgresBroadcaster",
    "Reconciler",
    "SessionTurns",
    "StatusWriter",
    "TemporalGateway",
    "libpq_dsn",
    "run_workers",
    "workflow_sandbox",
]
