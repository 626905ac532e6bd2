"""A cap on any one string the status carries.

The server refuses a status update holding a string over its limit (1 MiB, `validation.py`),
and a refused update is dropped whole: one giant tool result (a `read_file` of a big file, an
MCP tool's dump) would take the rest of that update with it. Cutting here keeps the turn's
status flowing; deepagents already gives the model its own view of big results.
"""

from __future__ import annotations

from typing import Final

# A quarter of the server's limit: room for the marker and for several capped fields in one
# update, and still far more than a person reads in a console.
MAX_FIELD_CHARS: Final = 262_144


def bounded(text: str, limit: int = MAX_FIELD_CHARS) -> str:
    """`text` whole when it fits, else its head with a marker saying how much was cut."""
    if len(text) <= limit:
        return text
    cut = len(text) - limit
    return f"{text[:limit]}\n… [{cut} more characters not shown]"
