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

from agent_runner.env_names import STIGMER_SCRIPTS_DIR
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


def load_script(ref: str, *, scripts_dir: Path | None = None) -> Script:
    """A shipped script by name (`demo`), or a YAML file by path below `scripts_dir`.

    A path outside `scripts_dir` (after resolving `..` and symbolic links), or any path
    when there is none, is refused before the file is opened: the model string is a
    user's, the file system the runner's. A relative path is taken below `scripts_dir`.
    """
    if ref.endswith((".yaml", ".yml")) or "/" in ref:
        path = _confined(ref, scripts_dir)
        if not path.is_file():
            raise ScriptError(f"scripted model: script file {str(path)!r} does not exist")
        return parse_script(path.read_text(encoding="utf-8"), name=path.stem)
    shipped = resources.files("agent_runner.scripts").joinpath(f"{ref}.yaml")
    if not shipped.is_file():
        raise ScriptError(
            f"scripted model: no shipped script named {ref!r}; expected one of "
            f"{shipped_scripts()} or a path to a .yaml file"
        )
    return parse_script(shipped.read_text(encoding="utf-8"), name=ref)


def shipped_scripts() -> list[str]:
    return sorted(
        entry.name.removesuffix(".yaml")
        for entry in resources.files("agent_runner.scripts").iterdir()
        if entry.name.endswith(".yaml")
    )


def _confined(ref: str, scripts_dir: Path | None) -> Path:
    if scripts_dir is None:
        raise ScriptError(
            f"scripted model: {ref!r} is a script file, and this runner reads none "
            f"({STIGMER_SCRIPTS_DIR} is not set); use a shipped script: {shipped_scripts()}"
        )
    path = (scripts_dir / Path(ref).expanduser()).resolve()
    if not path.is_relative_to(scripts_dir):
        raise ScriptError(
            f"scripted model: script file {ref!r} is outside the runner's scripts "
            f"directory ({STIGMER_SCRIPTS_DIR}={str(scripts_dir)!r}); only files below it "
            "or the shipped scripts are played"
        )
    return path


def parse_script(text: str, *, name: str) -> Script:
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        # The position and the parser's problem only: str(exc) quotes the offending lines.
        raise ScriptError(f"script {name!r} is not valid YAML{_where(exc)}") from None
    return _script(document, name=name, where="")


def _where(error: yaml.YAMLError) -> str:
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None)
    at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    return f"{at}: {problem}" if problem else at


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
