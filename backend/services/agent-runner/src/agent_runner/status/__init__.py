"""The execution status: built from the agent's stream, sent to the server as deltas."""

from agent_runner.config import FlushPolicy
from agent_runner.status._builder import MAIN, StatusBuilder
from agent_runner.status._changes import Delta
from agent_runner.status._previews import PreviewStream
from agent_runner.status._publisher import (
    FlushGate,
    StatusPublisher,
    StatusSink,
    StatusUndelivered,
    Superseded,
)
from agent_runner.status._routing import STREAM_MODES
from agent_runner.status._turn_status import TurnStatus

__all__ = [
    "MAIN",
    "STREAM_MODES",
    "Delta",
    "FlushGate",
    "FlushPolicy",
    "PreviewStream",
    "StatusBuilder",
    "StatusPublisher",
    "StatusSink",
    "StatusUndelivered",
    "Superseded",
    "TurnStatus",
]
