"""Logging, configured once by each entrypoint: text or JSON lines that join traces.

A JSON line carries `trace_id` and `span_id` when a span is current (tracing on), and the
`execution_id` of the turn the code works for when one is bound (`execution_scope`), so a
log search and a trace search land on the same turn. Libraries that log message bodies at
DEBUG (checkpoints, HTTP requests: conversation text that may hold a secret) are held down
whatever the level.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from datetime import UTC, datetime

from opentelemetry import trace

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

QUIET: Mapping[str, int] = {
    "grpc": logging.WARNING,
    "grpc._cython.cygrpc": logging.WARNING,
    "asyncio": logging.WARNING,
    "httpcore": logging.WARNING,
    "httpx": logging.INFO,
    "aiosqlite": logging.WARNING,
    "sqlalchemy": logging.WARNING,
    "psycopg": logging.WARNING,
    "asyncpg": logging.WARNING,
    "langchain": logging.WARNING,
    "langgraph": logging.WARNING,
    "deepagents": logging.WARNING,
    "anthropic": logging.WARNING,
    "openai": logging.WARNING,
    "mcp": logging.WARNING,
    # At DEBUG the MCP adapter and SDK log tool arguments and results (a secret a server echoes).
    "langchain_mcp_adapters": logging.WARNING,
    "opentelemetry": logging.WARNING,
    "temporalio": logging.WARNING,
    "temporalio.activity": logging.INFO,
    "temporalio.worker._activity": logging.INFO,
}

_execution_id: ContextVar[str] = ContextVar("stigmer_execution_id", default="")


@contextlib.contextmanager
def execution_scope(execution_id: str) -> Iterator[None]:
    """Log lines written in this block (and in tasks it starts) name the execution."""
    token = _execution_id.set(execution_id)
    try:
        yield
    finally:
        _execution_id.reset(token)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        context = trace.get_current_span().get_span_context()
        if context.is_valid:
            entry["trace_id"] = trace.format_trace_id(context.trace_id)
            entry["span_id"] = trace.format_span_id(context.span_id)
        execution_id = _execution_id.get()
        if execution_id:
            entry["execution_id"] = execution_id
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(level: str, fmt: str, *, quiet: Mapping[str, int] = QUIET) -> None:
    """Root logging to stderr as `text` or `json` lines; `quiet` libraries held down."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name, ceiling in quiet.items():
        logging.getLogger(name).setLevel(ceiling)
