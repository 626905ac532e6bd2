"""Variable and secret groups under _ops/planton/service-hub/{variables-group,secrets-group}.

Each file is one group: `apiVersion`, `kind` (VariablesGroup or SecretsGroup),
`metadata.name` and `spec.entries`, a list of `name` and `value`. Secret entries are
committed without a value: the value comes from the deployment (prod) or is generated
locally when a .env is resolved.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from stigmer_dotenv._errors import EnvConfigError

API_VERSION = "service-hub.planton.cloud/v1"
VARIABLES = "variables-group"
SECRETS = "secrets-group"
GROUP_KINDS = {VARIABLES: "VariablesGroup", SECRETS: "SecretsGroup"}


@dataclass(frozen=True)
class Entry:
    name: str
    value: str | None


@dataclass(frozen=True)
class Group:
    name: str
    path: Path
    entries: dict[str, Entry]


# (variables-group | secrets-group) -> group name -> group
Groups = dict[str, dict[str, Group]]


def load_groups(service_hub: Path) -> Groups:
    """Every group file under `service_hub`, validated."""
    groups: Groups = {}
    for directory, kind in GROUP_KINDS.items():
        groups[directory] = {}
        for path in sorted((service_hub / directory).glob("*.yaml")):
            group = _load_group(path, kind)
            if group.name in groups[directory]:
                raise EnvConfigError(f"{path}: group {group.name!r} is also defined elsewhere")
            groups[directory][group.name] = group
    return groups


def _load_group(path: Path, kind: str) -> Group:
    doc = _mapping(yaml.safe_load(path.read_text(encoding="utf-8")), path, "the document")
    if doc.get("apiVersion") != API_VERSION:
        raise EnvConfigError(f"{path}: apiVersion must be {API_VERSION!r}")
    if doc.get("kind") != kind:
        raise EnvConfigError(f"{path}: kind must be {kind!r}, got {doc.get('kind')!r}")
    name = _mapping(doc.get("metadata"), path, "metadata").get("name")
    if not isinstance(name, str) or not name:
        raise EnvConfigError(f"{path}: metadata.name must be a non-empty string")
    if path.stem != name:
        raise EnvConfigError(f"{path}: metadata.name {name!r} must match the file name")
    raw_entries = _mapping(doc.get("spec"), path, "spec").get("entries")
    if not isinstance(raw_entries, list):
        raise EnvConfigError(f"{path}: spec.entries must be a list of {{name, value}}")
    entries: dict[str, Entry] = {}
    for index, raw in enumerate(raw_entries):
        entry = _entry(_mapping(raw, path, f"spec.entries[{index}]"), path, index, kind)
        if entry.name in entries:
            raise EnvConfigError(f"{path}: entry {entry.name!r} appears twice")
        entries[entry.name] = entry
    return Group(name=name, path=path, entries=entries)


def _entry(raw: dict[str, Any], path: Path, index: int, kind: str) -> Entry:
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        raise EnvConfigError(f"{path}: spec.entries[{index}].name must be a non-empty string")
    value = raw.get("value")
    if kind == GROUP_KINDS[SECRETS]:
        if value is not None:
            raise EnvConfigError(
                f"{path}: secret entry {name!r} holds a value; secrets are never committed "
                "(remove `value`: local values are generated, prod values come from the deployment)"
            )
        return Entry(name=name, value=None)
    if not isinstance(value, str | int | float | bool):
        raise EnvConfigError(f"{path}: variable entry {name!r} needs a scalar `value`")
    return Entry(name=name, value=_scalar(value))


def _scalar(value: str | int | float | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _mapping(value: object, path: Path, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise EnvConfigError(f"{path}: {what} must be a mapping")
    return value
