"""The scripted model's script: the YAML contract of ARCHITECTURE section 7, parsed and checked.

Tests outside the runner write scripts too, so every mistake is reported with the path of the
offending field (`replies[2].tool_calls[0].name`) rather than surfacing as a wrong reply later.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from agent_runner.errors import InvalidInputError


class ScriptError(InvalidInputError):
    """A script file that does not follow the format; the message names the field."""


@dataclass(frozen=True)
class ScriptedToolCall:
    name: str
    args: Mapping[str, Any]


@dataclass(frozen=True)
class ScriptedReply:
    text: str = ""
    tool_calls: tuple[ScriptedToolCall, ...] = ()
    # The last human or tool message the model sees must contain this, else the model says so.
    expect: str | None = None


@dataclass(frozen=True)
class Script:
    name: str
    replies: tuple[ScriptedReply, ...]
    subagents: Mapping[str, Script] = field(default_factory=dict)


def load_script(ref: str) -> Script:
    """A shipped script by name (`demo`) or any YAML file by path (`./my-turn.yaml`)."""
    if ref.endswith((".yaml", ".yml")) or "/" in ref:
        path = Path(ref).expanduser()
        if not path.is_file():
            raise ScriptError(f"scripted model: script file {str(path)!r} does not exist")
        return parse_script(path.read_text(encoding="utf-8"), name=path.stem)
    shipped = resources.files("agent_runner.scripts").joinpath(f"{ref}.yaml")
    if not shipped.is_file():
        names = sorted(
            entry.name.removesuffix(".yaml")
            for entry in resources.files("agent_runner.scripts").iterdir()
            if entry.name.endswith(".yaml")
        )
        raise ScriptError(
            f"scripted model: no shipped script named {ref!r}; expected one of {names} "
            "or a path to a .yaml file"
        )
    return parse_script(shipped.read_text(encoding="utf-8"), name=ref)


def parse_script(text: str, *, name: str) -> Script:
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ScriptError(f"script {name!r} is not valid YAML: {exc}") from exc
    return _script(document, name=name, where="")


def _script(document: object, *, name: str, where: str) -> Script:
    if not isinstance(document, dict):
        raise ScriptError(f"script {name!r}: {where or 'the document'} must be a mapping")
    unknown = set(document) - {"replies", "subagents"}
    if unknown:
        raise ScriptError(
            f"script {name!r}: unknown key(s) {sorted(unknown)} at {where or 'top level'}; "
            "expected 'replies' and optionally 'subagents'"
        )
    raw_replies = document.get("replies")
    if not isinstance(raw_replies, list):
        raise ScriptError(f"script {name!r}: {where}replies must be a list of replies")
    replies = tuple(
        _reply(item, name=name, where=f"{where}replies[{i}]") for i, item in enumerate(raw_replies)
    )
    raw_subagents = document.get("subagents") or {}
    if not isinstance(raw_subagents, dict):
        raise ScriptError(f"script {name!r}: {where}subagents must map sub-agent names to scripts")
    subagents = {
        str(sub): _script(body, name=name, where=f"{where}subagents.{sub}.")
        for sub, body in raw_subagents.items()
    }
    return Script(name=name, replies=replies, subagents=subagents)


def _reply(item: object, *, name: str, where: str) -> ScriptedReply:
    if not isinstance(item, dict):
        raise ScriptError(f"script {name!r}: {where} must be a mapping with text or tool_calls")
    unknown = set(item) - {"text", "tool_calls", "expect"}
    if unknown:
        raise ScriptError(
            f"script {name!r}: {where} has unknown key(s) {sorted(unknown)}; "
            "expected text, tool_calls, expect"
        )
    text = item.get("text", "")
    if not isinstance(text, str):
        raise ScriptError(f"script {name!r}: {where}.text must be a string")
    expect = item.get("expect")
    if expect is not None and not isinstance(expect, str):
        raise ScriptError(f"script {name!r}: {where}.expect must be a string")
    raw_calls = item.get("tool_calls") or []
    if not isinstance(raw_calls, list):
        raise ScriptError(f"script {name!r}: {where}.tool_calls must be a list")
    calls = tuple(
        _tool_call(call, name=name, where=f"{where}.tool_calls[{j}]")
        for j, call in enumerate(raw_calls)
    )
    if not text and not calls:
        raise ScriptError(f"script {name!r}: {where} needs a non-empty text or tool_calls")
    return ScriptedReply(text=text, tool_calls=calls, expect=expect)


def _tool_call(call: object, *, name: str, where: str) -> ScriptedToolCall:
    if not isinstance(call, dict):
        raise ScriptError(f"script {name!r}: {where} must be a mapping with name and args")
    tool = call.get("name")
    if not isinstance(tool, str) or not tool:
        raise ScriptError(f"script {name!r}: {where}.name must be a non-empty tool name")
    args = call.get("args", {})
    if not isinstance(args, dict):
        raise ScriptError(f"script {name!r}: {where}.args must be a mapping")
    return ScriptedToolCall(name=tool, args=args)
