"""The text of a notification between server replicas about an execution.

PostgreSQL notifications carry text of at most 8000 bytes, so an event is sent as base64 of
its protobuf when it fits and as a hint (its sequence alone) when it does not; a watcher
that gets a hint reads the change from the execution log.

A notice carries a status change or a preview, never a snapshot: a snapshot holds the
turn's spec, whose runtime env may hold secrets, and notices travel in clear through the
database connection. Statuses hold no environment values (a test walks their schema).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Final

from google.protobuf.message import DecodeError

from ai.stigmer.agentic.agentexecution.v1.io_pb2 import AgentExecutionEvent

# PostgreSQL's limit is 8000 bytes; the rest of the notice needs well under 200.
MAX_EVENT_TEXT: Final = 7600
_VERSION: Final = "1"


@dataclass(frozen=True)
class Notice:
    replica: str
    execution_id: str
    attempt: int
    # A delta or preview event; an event with no payload is a hint.
    event: AgentExecutionEvent


def encode_notice(notice: Notice) -> str:
    if notice.event.HasField("snapshot"):
        raise ValueError(
            f"execution notice for {notice.execution_id!r}: a snapshot is never broadcast "
            "(it holds the turn's runtime env); send the change or a hint"
        )
    body = base64.b64encode(notice.event.SerializeToString()).decode("ascii")
    if len(body) > MAX_EVENT_TEXT:
        body = base64.b64encode(
            AgentExecutionEvent(sequence=notice.event.sequence).SerializeToString()
        ).decode("ascii")
    return "|".join((_VERSION, notice.replica, notice.execution_id, str(notice.attempt), body))


def decode_notice(text: str) -> Notice:
    parts = text.split("|")
    if len(parts) != 5 or parts[0] != _VERSION:
        raise ValueError(f"not a version-{_VERSION} execution notice: {text[:80]!r}")
    _, replica, execution_id, attempt, body = parts
    event = AgentExecutionEvent()
    try:
        event.ParseFromString(base64.b64decode(body, validate=True))
        return Notice(replica, execution_id, int(attempt), event)
    except (binascii.Error, DecodeError, ValueError) as error:
        raise ValueError(f"execution notice for {execution_id!r}: {error}") from error
