"""Printing resources: tables for people, YAML and JSON for tools; secrets always masked."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import yaml
from google.protobuf import json_format
from google.protobuf.message import Message
from rich.console import Console
from rich.table import Table

from ai.stigmer.agentic.agentexecution.v1.enum_pb2 import ExecutionPhase
from stigmer_cli._kinds import AGENT_INSTANCE, EXECUTION, MCP_SERVER, SESSION, Kind

_MASK = "********"
_PIPED_WIDTH = 400


class OutputFormat(StrEnum):
    TABLE = "table"
    YAML = "yaml"
    JSON = "json"


def to_dict(resource: Message) -> dict[str, Any]:
    data = json_format.MessageToDict(resource)
    _mask_secrets(data)
    return data


def _mask_secrets(node: Any) -> None:
    """Any EnvironmentValue marked secret, wherever it sits, shows a mask instead of its value
    (the server sends none: an empty value, which JSON leaves out, still shows the mask)."""
    if isinstance(node, dict):
        if node.get("isSecret") is True:
            node["value"] = _MASK
        for child in node.values():
            _mask_secrets(child)
    elif isinstance(node, list):
        for child in node:
            _mask_secrets(child)


def print_resources(
    console: Console, kind: Kind, items: Sequence[Message], output: OutputFormat
) -> None:
    if output == OutputFormat.JSON:
        payload: Any = [to_dict(item) for item in items]
        console.out(json.dumps(payload[0] if len(payload) == 1 else payload, indent=2))
    elif output == OutputFormat.YAML:
        docs = [to_dict(item) for item in items]
        console.out(yaml.safe_dump_all(docs, sort_keys=False).rstrip())
    elif console.is_terminal:
        console.print(resource_table(kind, items))
    else:
        # Piped output is read by tools and tests: never squeeze or wrap an id to 80 columns.
        wide = Console(file=console.file, width=_PIPED_WIDTH, color_system=None)
        wide.print(resource_table(kind, items))


def resource_table(kind: Kind, items: Sequence[Message]) -> Table:
    table = Table(show_edge=False, pad_edge=False, box=None, header_style="bold")
    columns, row = _columns(kind)
    for column in columns[:-1]:
        table.add_column(column, no_wrap=True, min_width=len(column))
    table.add_column(columns[-1], overflow="ellipsis", no_wrap=True)
    for item in items:
        table.add_row(*row(item))
    return table


def _columns(kind: Kind) -> tuple[list[str], Any]:
    if kind is EXECUTION:
        return ["ID", "SESSION", "PHASE", "AGE", "MESSAGE"], lambda e: [
            e.metadata.id,
            e.spec.session_id,
            phase_name(e.status.phase),
            age(e.metadata),
            _short(e.spec.message),
        ]
    if kind is SESSION:
        return ["ID", "INSTANCE", "SUBJECT", "AGE"], lambda s: [
            s.metadata.id,
            s.spec.agent_instance_id,
            _short(s.spec.subject),
            age(s.metadata),
        ]
    if kind is AGENT_INSTANCE:
        return ["SLUG", "NAME", "ID", "AGENT", "AGE"], lambda i: [
            i.metadata.slug,
            i.metadata.name,
            i.metadata.id,
            i.spec.agent_id,
            age(i.metadata),
        ]
    if kind is MCP_SERVER:
        return ["SLUG", "NAME", "ID", "AGE", "TRANSPORT"], lambda m: [
            m.metadata.slug,
            m.metadata.name,
            m.metadata.id,
            age(m.metadata),
            _transport(m.spec),
        ]
    return ["SLUG", "NAME", "ID", "AGE"], lambda r: [
        r.metadata.slug,
        r.metadata.name,
        r.metadata.id,
        age(r.metadata),
    ]


def _transport(spec: Any) -> str:
    # Header and env values may hold credentials: only the command or the URL is shown.
    if spec.WhichOneof("transport") == "stdio":
        return _short(f"stdio: {spec.stdio.command}")
    if spec.WhichOneof("transport") == "streamable_http":
        return _short(f"http: {spec.streamable_http.url}")
    return "-"


def phase_name(phase: int) -> str:
    name = ExecutionPhase.Name(ExecutionPhase.ValueType(phase))
    return name.removeprefix("EXECUTION_")


def age(metadata: Any) -> str:
    if not metadata.HasField("created_at"):
        return "-"
    created = metadata.created_at.ToDatetime(tzinfo=UTC)
    seconds = max(0, int((datetime.now(UTC) - created).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _short(text: str, limit: int = 50) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= limit else line[: limit - 3] + "..."
