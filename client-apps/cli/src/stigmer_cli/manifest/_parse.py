"""YAML manifests into validated resource messages, with every error located precisely."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import yaml
from google.protobuf import json_format
from google.protobuf.message import Message

from stigmer_cli._errors import CliError
from stigmer_cli._kinds import (
    AGENT,
    AGENT_INSTANCE,
    API_VERSION,
    ENVIRONMENT,
    MANIFEST_KINDS,
    MCP_SERVER,
    SKILL,
    Kind,
)
from stigmer_cli.manifest._schema import normalize

SLUG = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_TOP_LEVEL = ("apiVersion", "kind", "metadata", "spec")
_METADATA = ("name", "slug", "labels", "annotations")
# Applied in this order, so what a resource refers to exists before it.
APPLY_ORDER = ("Skill", "Environment", "McpServer", "Agent", "AgentInstance")


class ManifestError(CliError):
    """Every problem in the manifests, each naming its file, document and field."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(
            "invalid manifest:\n  " + "\n  ".join(problems),
            fix="correct the fields named above; nothing was applied",
        )
        self.problems = problems


@dataclass(frozen=True)
class Reference:
    """A slug a document refers to; `field` is where the document says it."""

    kind: Kind
    slug: str
    field: str


@dataclass(frozen=True)
class Document:
    source: Path
    index: int
    kind: Kind
    slug: str
    resource: Message
    references: tuple[Reference, ...]
    # For AgentInstance: the agent's slug, turned into spec.agent_id when applied.
    agent_slug: str | None = None

    @property
    def where(self) -> str:
        return f"{self.source}: document {self.index + 1} ({self.kind.name} {self.slug})"


def manifest_files(target: Path) -> list[Path]:
    """A file, or a directory's *.yaml / *.yml files (not its subdirectories), sorted."""
    if target.is_dir():
        files = sorted(p for p in target.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
        if not files:
            raise CliError(f"{target} holds no .yaml or .yml file")
        return files
    if not target.is_file():
        raise CliError(f"{target}: no such file or directory")
    return [target]


def load(targets: list[Path]) -> list[Document]:
    """Parse and validate every document of every file; raise ManifestError with all problems."""
    problems: list[str] = []
    documents: list[Document] = []
    for path in [f for target in targets for f in manifest_files(target)]:
        try:
            raws = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
        except yaml.YAMLError as error:
            problems.append(f"{path}: not valid YAML: {error}")
            continue
        for index, raw in enumerate(raws):
            if raw is None:
                continue
            where = f"{path}: document {index + 1}"
            found: list[str] = []
            document = _document(path, index, raw, found)
            problems.extend(f"{where}: {problem}" for problem in found)
            if document is not None and not found:
                documents.append(document)
    problems.extend(_duplicates(documents))
    if problems:
        raise ManifestError(problems)
    return sorted(documents, key=lambda d: APPLY_ORDER.index(d.kind.name))


def _document(path: Path, index: int, raw: Any, problems: list[str]) -> Document | None:
    if not isinstance(raw, dict):
        problems.append("expected a mapping with apiVersion, kind, metadata and spec")
        return None
    for key in raw:
        if key not in _TOP_LEVEL:
            hint = " (status is set by the system)" if key == "status" else ""
            problems.append(f"{key}: unknown field{hint} (known fields: {', '.join(_TOP_LEVEL)})")
    if raw.get("apiVersion") != API_VERSION:
        problems.append(f"apiVersion: expected {API_VERSION!r}, got {raw.get('apiVersion')!r}")
    kind = MANIFEST_KINDS.get(str(raw.get("kind")))
    if kind is None:
        problems.append(f"kind: expected one of {', '.join(APPLY_ORDER)}, got {raw.get('kind')!r}")
        return None
    metadata = _metadata(raw.get("metadata"), problems)
    spec_raw = raw.get("spec")
    if spec_raw is None:
        problems.append("spec: missing")
        return None
    agent_slug = None
    if kind is AGENT_INSTANCE and isinstance(spec_raw, dict):
        spec_raw = dict(spec_raw)
        agent_slug = _agent_slug(spec_raw, problems)
    spec_descriptor: Any = kind.message.DESCRIPTOR.fields_by_name["spec"].message_type
    spec = normalize(spec_raw, spec_descriptor, "spec", problems)
    if metadata is None or problems:
        return None
    resource = kind.new()
    try:
        json_format.ParseDict(
            {"api_version": API_VERSION, "kind": kind.name, "metadata": metadata, "spec": spec},
            resource,
        )
    except json_format.ParseError as error:
        problems.append(f"spec: {error}")
        return None
    return Document(
        source=path,
        index=index,
        kind=kind,
        slug=str(metadata["slug"]),
        resource=resource,
        references=_references(kind, resource, agent_slug),
        agent_slug=agent_slug,
    )


def _metadata(raw: Any, problems: list[str]) -> dict[str, Any] | None:
    if not isinstance(raw, dict):
        problems.append("metadata: expected a mapping with at least a name")
        return None
    for key in raw:
        if key not in _METADATA:
            problems.append(f"metadata.{key}: unknown field (known fields: {', '.join(_METADATA)})")
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        problems.append("metadata.name: expected a non-empty string")
        return None
    slug = raw.get("slug", slugify(name))
    if not isinstance(slug, str) or not SLUG.match(slug):
        problems.append(
            f"metadata.slug: expected lowercase letters, digits and '-' (at most 63), got {slug!r}"
        )
        return None
    result: dict[str, Any] = {"name": name, "slug": slug}
    for key in ("labels", "annotations"):
        value = raw.get(key)
        if value is None:
            continue
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            problems.append(f"metadata.{key}: expected a mapping of strings")
            continue
        result[key] = {str(k): v for k, v in value.items()}
    return result


def _agent_slug(spec: dict[str, Any], problems: list[str]) -> str | None:
    """AgentInstance names its agent by slug (`agent:`), as manifests never know ids."""
    slug = spec.pop("agent", None)
    if "agentId" in spec or "agent_id" in spec:
        problems.append(
            "spec.agentId: not accepted in manifests; name the agent by slug in `agent`"
        )
        return None
    if not isinstance(slug, str) or not SLUG.match(slug):
        problems.append(f"spec.agent: expected the slug of an Agent, got {slug!r}")
        return None
    return slug


def _references(kind: Kind, resource: Message, agent_slug: str | None) -> tuple[Reference, ...]:
    refs: list[Reference] = []
    spec = cast(Any, resource).spec
    if kind is AGENT:
        refs += [
            Reference(SKILL, ref.slug, f"spec.skillRefs[{i}]")
            for i, ref in enumerate(spec.skill_refs)
        ]
        refs += [
            Reference(MCP_SERVER, ref.slug, f"spec.mcpServerRefs[{i}]")
            for i, ref in enumerate(spec.mcp_server_refs)
        ]
        for s, sub in enumerate(spec.sub_agents):
            refs += [
                Reference(SKILL, ref.slug, f"spec.subAgents[{s}].skillRefs[{i}]")
                for i, ref in enumerate(sub.skill_refs)
            ]
            refs += [
                Reference(MCP_SERVER, ref.slug, f"spec.subAgents[{s}].mcpServerRefs[{i}]")
                for i, ref in enumerate(sub.mcp_server_refs)
            ]
    if kind is AGENT_INSTANCE:
        refs += [
            Reference(ENVIRONMENT, ref.slug, f"spec.environmentRefs[{i}]")
            for i, ref in enumerate(spec.environment_refs)
        ]
        if agent_slug is not None:
            refs.append(Reference(AGENT, agent_slug, "spec.agent"))
    return tuple(refs)


def _duplicates(documents: list[Document]) -> list[str]:
    seen: dict[tuple[str, str], Document] = {}
    problems = []
    for document in documents:
        key = (document.kind.name, document.slug)
        if key in seen:
            problems.append(f"{document.where}: also declared in {seen[key].where}")
        seen[key] = document
    return problems


def slugify(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return slug[:63].rstrip("-")
