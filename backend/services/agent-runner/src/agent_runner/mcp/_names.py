"""The names MCP tools get in the agent: `mcp_<server slug>_<tool>`.

Slugs hold only lower-case letters, digits and dashes, so the first `_` after the prefix
always ends the server's part and two servers' tools cannot clash. Providers accept tool
names of `[A-Za-z0-9_-]{1,64}`: other characters become `_`, and a longer name (or one that
still clashes after that) is cut and ends with a digest of the full name.
"""

from __future__ import annotations

import hashlib
import re

PREFIX = "mcp_"
MAX_LENGTH = 64
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
_DIGEST = 8


def tool_name(server: str, tool: str, taken: set[str]) -> str:
    """The agent-facing name of `tool` of `server`, distinct from every name in `taken`."""
    full = f"{PREFIX}{server}_{tool}"
    name = _UNSAFE.sub("_", full)
    if len(name) > MAX_LENGTH or name in taken:
        digest = hashlib.sha256(full.encode()).hexdigest()[:_DIGEST]
        name = f"{name[: MAX_LENGTH - _DIGEST - 1]}_{digest}"
    return name


def split_tool_name(name: str) -> tuple[str, str] | None:
    """(server, tool part) of an MCP tool's agent-facing name; None for any other tool."""
    if not name.startswith(PREFIX):
        return None
    server, sep, tool = name[len(PREFIX) :].partition("_")
    if not server or not sep or not tool:
        return None
    return server, tool
