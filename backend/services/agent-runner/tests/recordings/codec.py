"""Stream items to JSON and back, so recorded deepagents runs can be replayed in unit tests.

Messages go through langchain's own serializer (restricted to message classes on load);
exceptions keep their type name and text; everything else is plain JSON.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from langchain_core._api.beta_decorator import LangChainBetaWarning
from langchain_core.load import dumpd, load
from langchain_core.messages import BaseMessage


class RecordedError(Exception):
    """Stands in for an exception a recorded `tasks` event carried."""


def encode(value: Any) -> Any:
    if isinstance(value, BaseMessage):
        return {"__message__": dumpd(value)}
    if isinstance(value, BaseException):
        return {"__error__": [type(value).__name__, str(value)]}
    if isinstance(value, dict):
        return {str(k): encode(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [encode(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return {"__repr__": repr(value)}


def decode(value: Any) -> Any:
    if isinstance(value, dict):
        if "__message__" in value:
            with warnings.catch_warnings():
                # `load` is marked beta; the recordings only hold plain message classes.
                warnings.simplefilter("ignore", LangChainBetaWarning)
                return load(value["__message__"], allowed_objects="messages")
        if "__error__" in value:
            kind, text = value["__error__"]
            return RecordedError(f"{kind}: {text}")
        return {k: decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decode(v) for v in value]
    return value


def write_items(path: Path, items: list[tuple[tuple[str, ...], str, Any]]) -> None:
    with path.open("w", encoding="utf-8") as out:
        for namespace, mode, payload in items:
            record = {"ns": list(namespace), "mode": mode, "payload": encode(payload)}
            out.write(json.dumps(record, sort_keys=True) + "\n")


def read_items(path: Path) -> Iterator[tuple[tuple[str, ...], str, Any]]:
    with path.open(encoding="utf-8") as source:
        for line in source:
            record = json.loads(line)
            payload = decode(record["payload"])
            if record["mode"] == "messages":
                payload = tuple(payload)
            yield tuple(record["ns"]), record["mode"], payload
