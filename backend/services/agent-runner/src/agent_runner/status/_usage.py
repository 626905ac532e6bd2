"""Token usage of a turn: each model call counted once, across attempts.

Usage is a total the writer sends whole, so an attempt that counted from zero would shrink the
stored totals: a resumed attempt re-streams only what is left of the turn, and sub-agent calls
live only in the stream (never in the checkpoint's messages). So the ledger starts from what
the stored status already counts (`seed`), and counts every model call by its message id:
a call seen again (a checkpoint message, the stored status, a duplicate event) adds nothing.

Replies that only rewrote the todo list have no message in the status, so the stored status
cannot say which of them it counted: their usage is the stored total's unattributed part. The
checkpoint's own such replies are taken to be in it (the earlier attempt reported them) unless
they add up to more than that part.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ai.stigmer.agentic.agentexecution.v1.status_pb2 import AgentExecutionStatus, Usage

MAIN = ""


def usage_of(metadata: Mapping[str, Any]) -> Usage:
    return Usage(
        input_tokens=int(metadata.get("input_tokens", 0)),
        output_tokens=int(metadata.get("output_tokens", 0)),
        total_tokens=int(metadata.get("total_tokens", 0)),
    )


def _add(target: Usage, step: Usage) -> None:
    target.input_tokens += step.input_tokens
    target.output_tokens += step.output_tokens
    target.total_tokens += step.total_tokens


def _minus(total: Usage, part: Usage) -> Usage:
    return Usage(
        input_tokens=max(total.input_tokens - part.input_tokens, 0),
        output_tokens=max(total.output_tokens - part.output_tokens, 0),
        total_tokens=max(total.total_tokens - part.total_tokens, 0),
    )


def _larger(a: Usage, b: Usage) -> Usage:
    return a if a.total_tokens >= b.total_tokens else b


@dataclass(frozen=True)
class _Call:
    scope: str
    usage: Usage
    # A checkpoint reply with no message in the status (it only rewrote the todo list).
    seeded_hidden: bool


class UsageLedger:
    def __init__(self) -> None:
        self._calls: dict[tuple[str, str], _Call] = {}
        self._stored: set[tuple[str, str]] = set()
        self._stored_total = Usage()
        self._stored_unattributed = Usage()
        self._stored_subs: dict[str, Usage] = {}

    def seed(self, stored: AgentExecutionStatus) -> None:
        """What the stored status already counts: its totals, and the calls its messages name."""
        attributed = Usage()
        for message in stored.messages:
            if message.HasField("usage"):
                self._stored.add((MAIN, message.id))
                _add(attributed, message.usage)
        for sub in stored.sub_agent_executions:
            self._stored_subs[sub.id] = Usage()
            self._stored_subs[sub.id].CopyFrom(sub.usage)
            _add(attributed, sub.usage)
            for message in sub.messages:
                if message.HasField("usage"):
                    self._stored.add((sub.id, message.id))
        self._stored_total.CopyFrom(stored.usage)
        self._stored_unattributed = _minus(stored.usage, attributed)

    def count(
        self, scope: str, message_id: str, usage: Usage, *, seeded_hidden: bool = False
    ) -> bool:
        """Counts one model call; False when it was counted already. Calls the stored status
        holds stay out of the totals, whichever of `seed` and `count` comes first."""
        key = (scope, message_id)
        if key in self._calls:
            return False
        self._calls[key] = _Call(scope=scope, usage=usage, seeded_hidden=seeded_hidden)
        return True

    def total(self) -> Usage:
        total = Usage()
        total.CopyFrom(self._stored_total)
        hidden = Usage()
        for key, call in self._calls.items():
            if key not in self._stored:
                _add(hidden if call.seeded_hidden else total, call.usage)
        # The stored total holds the earlier attempt's todo-only replies as its unattributed
        # part: only what goes beyond it is new.
        _add(total, _minus(_larger(hidden, self._stored_unattributed), self._stored_unattributed))
        return total

    def sub_total(self, sub_id: str) -> Usage:
        total = Usage()
        total.CopyFrom(self._stored_subs.get(sub_id, Usage()))
        for key, call in self._calls.items():
            if call.scope == sub_id and key not in self._stored:
                _add(total, call.usage)
        return total
