"""Logging, configured once by the entrypoint: text or JSON lines, noisy libraries held down."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

_QUIET = {
    "grpc": logging.WARNING,
    "grpc._cython.cygrpc": logging.WARNING,
    "asyncio": logging.WARNING,
    "httpcore": logging.WARNING,
    "httpx": logging.INFO,
    # Their DEBUG lines carry checkpoint blobs and request bodies: conversation text that may
    # hold a secret the model was shown.
    "aiosqlite": logging.WARNING,
    "psycopg": logging.WARNING,
    "langchain": logging.WARNING,
    "langgraph": logging.WARNING,
    "deepagents": logging.WARNING,
    "anthropic": logging.WARNING,
    "openai": logging.WARNING,
    # Their DEBUG lines carry every MCP message: tool arguments and results, which may hold
    # a secret a server echoes back.
    "mcp": logging.WARNING,
    "langchain_mcp_adapters": logging.WARNING,
    "temporalio": logging.WARNING,
    "temporalio.activity": logging.INFO,
    "temporalio.worker._activity": logging.INFO,
}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(level: str, fmt: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    quiet_libraries()


def quiet_libraries() -> None:
    """Hold the noisy (and, at DEBUG, indiscreet) libraries down, whatever the root level."""
    for name, quiet in _QUIET.items():
        logging.getLogger(name).setLevel(quiet)
