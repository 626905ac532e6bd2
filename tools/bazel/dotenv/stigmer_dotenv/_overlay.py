"""A service's declared environment: its kustomize base with one overlay applied.

Only the part of kustomize these files use is implemented: `resources` (files or
directories with their own kustomization.yaml) and `patches` given by `path`, applied as
JSON merge patches (RFC 7386, what kustomize does for a custom resource) to the resource of
the same kind and name. `kustomize build overlays/<env>` gives the same document.
The env is read from `spec.container.app.env.variables` and `.secrets` (name -> value).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from stigmer_dotenv._errors import EnvConfigError

KUSTOMIZATION = "kustomization.yaml"
ENV_PATH = ("spec", "container", "app", "env")
ENV_SECTIONS = ("variables", "secrets")


@dataclass(frozen=True)
class Declared:
    value: str
    section: str  # variables | secrets
    source: Path  # the file that set this value last


@dataclass(frozen=True)
class DeclaredEnv:
    service: str
    overlay: Path
    variables: dict[str, Declared]


def render_overlay(overlay: Path) -> dict[str, Any]:
    """The single service resource `overlay` builds, as `kustomize build` renders it."""
    return _render(overlay, [])


def _render(overlay: Path, sources: list[tuple[Path, dict[str, Any]]]) -> dict[str, Any]:
    resources = _build(overlay, sources, seen=set())
    if len(resources) != 1:
        raise EnvConfigError(f"{overlay}: expected one service resource, found {len(resources)}")
    return next(iter(resources.values()))


def load_overlay(overlay: Path) -> DeclaredEnv:
    """The env of the single service resource that `overlay` builds."""
    sources: list[tuple[Path, dict[str, Any]]] = []
    doc = _render(overlay, sources)
    kind, name = _identity(doc, overlay)
    env = _dig(doc, ENV_PATH)
    if not isinstance(env, dict):
        raise EnvConfigError(f"{overlay}: {kind} {name} has no {'.'.join(ENV_PATH)} mapping")
    declared: dict[str, Declared] = {}
    for section in ENV_SECTIONS:
        values = env.get(section) or {}
        if not isinstance(values, dict):
            raise EnvConfigError(f"{overlay}: {'.'.join(ENV_PATH)}.{section} must be a mapping")
        for variable, value in values.items():
            if not isinstance(value, str | int | float | bool):
                raise EnvConfigError(f"{overlay}: {variable} must be a scalar, got {value!r}")
            if variable in declared:
                raise EnvConfigError(f"{overlay}: {variable} is both a variable and a secret")
            text = str(value).lower() if isinstance(value, bool) else str(value)
            declared[variable] = Declared(text, section, _last_source(sources, section, variable))
    return DeclaredEnv(service=name, overlay=overlay, variables=declared)


def _build(
    directory: Path, sources: list[tuple[Path, dict[str, Any]]], seen: set[Path]
) -> dict[tuple[str, str], dict[str, Any]]:
    directory = Path(os.path.normpath(directory))
    if directory in seen:
        raise EnvConfigError(f"{directory}: kustomization includes itself")
    seen.add(directory)
    kustomization = _load(directory / KUSTOMIZATION)
    resources: dict[tuple[str, str], dict[str, Any]] = {}
    for entry in kustomization.get("resources") or []:
        target = directory / str(entry)
        if target.is_dir():
            resources.update(_build(target, sources, seen))
        else:
            doc = _load(target)
            resources[_identity(doc, target)] = doc
            sources.append((target, doc))
    for patch in kustomization.get("patches") or []:
        if not isinstance(patch, dict) or "path" not in patch:
            raise EnvConfigError(f"{directory / KUSTOMIZATION}: each patch needs a `path`")
        path = directory / str(patch["path"])
        doc = _load(path)
        key = _identity(doc, path)
        if key not in resources:
            raise EnvConfigError(f"{path}: patches {key[0]} {key[1]}, which no resource defines")
        resources[key] = _merge_patch(resources[key], doc)
        sources.append((path, doc))
    return resources


def _merge_patch(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return patch
    merged = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = _merge_patch(merged.get(key), value)
    return merged


def _last_source(sources: list[tuple[Path, dict[str, Any]]], section: str, variable: str) -> Path:
    found = sources[0][0]
    for path, doc in sources:
        values = _dig(doc, (*ENV_PATH, section))
        if isinstance(values, dict) and variable in values:
            found = path
    return found


def _identity(doc: dict[str, Any], path: Path) -> tuple[str, str]:
    kind, name = doc.get("kind"), _dig(doc, ("metadata", "name"))
    if not isinstance(kind, str) or not isinstance(name, str):
        raise EnvConfigError(f"{path}: a resource needs `kind` and `metadata.name`")
    return kind, name


def _dig(doc: Any, keys: tuple[str, ...]) -> Any:
    for key in keys:
        if not isinstance(doc, dict):
            return None
        doc = doc.get(key)
    return doc


def _load(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise EnvConfigError(f"{path}: file not found")
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(doc, dict):
        raise EnvConfigError(f"{path}: expected a YAML mapping")
    return doc
