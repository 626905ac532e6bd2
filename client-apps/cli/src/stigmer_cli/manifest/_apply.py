"""Applying validated manifests: create or update each resource by slug, in dependency order."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, cast

from google.protobuf.message import Message

from stigmer_cli._client import Resources
from stigmer_cli._errors import CliError
from stigmer_cli._kinds import AGENT
from stigmer_cli.manifest._parse import Document, ManifestError


class Action(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"


@dataclass(frozen=True)
class Outcome:
    kind: str
    slug: str
    id: str
    action: Action


def check_references(documents: list[Document], resources: Resources) -> None:
    """Every slug a document refers to is declared alongside it or exists on the server."""
    declared = {(d.kind.name, d.slug) for d in documents}
    problems = []
    for document in documents:
        for ref in document.references:
            if (ref.kind.name, ref.slug) in declared:
                continue
            if resources.by_slug(ref.kind, ref.slug) is None:
                problems.append(
                    f"{document.where}: {ref.field}: no {ref.kind.name} with slug {ref.slug!r} "
                    "in these manifests or on the server"
                )
    if problems:
        raise ManifestError(problems)


def apply(documents: list[Document], resources: Resources) -> list[Outcome]:
    """Documents arrive sorted so dependencies come first (see APPLY_ORDER)."""
    check_references(documents, resources)
    outcomes = []
    for document in documents:
        try:
            outcomes.append(_apply_one(document, resources))
        except CliError as error:
            # The server's refusal, located in the manifest that caused it.
            raise CliError(
                f"{document.where}: {error.message}", fix=error.fix, exit_code=error.exit_code
            ) from None
    return outcomes


def _apply_one(document: Document, resources: Resources) -> Outcome:
    desired = _desired(document, resources)
    existing: Any = resources.by_slug(document.kind, document.slug)
    if existing is None:
        stored: Any = resources.create(document.kind, desired)
        action = Action.CREATED
    elif _same(existing, desired):
        stored, action = existing, Action.UNCHANGED
    else:
        meta = cast(Any, desired).metadata
        meta.id = existing.metadata.id
        meta.version = existing.metadata.version
        stored = resources.update(document.kind, desired)
        # Reads show secret values masked, so a manifest with secrets never looks the same
        # as what is stored: the server decides, keeping the version when nothing changed.
        changed = stored.metadata.version != existing.metadata.version
        action = Action.UPDATED if changed else Action.UNCHANGED
    return Outcome(document.kind.name, document.slug, stored.metadata.id, action)


def _desired(document: Document, resources: Resources) -> Message:
    desired = document.kind.new()
    desired.CopyFrom(document.resource)
    if document.agent_slug is not None:
        agent = resources.by_slug(AGENT, document.agent_slug)
        if agent is None:
            raise ManifestError([f"{document.where}: spec.agent: no Agent {document.agent_slug!r}"])
        cast(Any, desired).spec.agent_id = cast(Any, agent).metadata.id
    return desired


def _same(existing: Message, desired: Message) -> bool:
    have: Any = existing
    want: Any = desired
    return bool(
        have.spec == want.spec
        and have.metadata.name == want.metadata.name
        and dict(have.metadata.labels) == dict(want.metadata.labels)
        and dict(have.metadata.annotations) == dict(want.metadata.annotations)
    )
