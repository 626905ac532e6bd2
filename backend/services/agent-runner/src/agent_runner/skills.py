"""Skills in the sandbox: each SKILL.md written to `skills/<slug>/`, only its summary prompted.

Progressive disclosure: the system prompt lists name, description and path; the agent reads
the file when a task needs it. deepagents' own skills middleware would cache the list in the
thread's state on the first turn (a skill added later stays invisible), so the runner writes
and lists skills itself, on every turn.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from deepagents.backends.protocol import SandboxBackendProtocol

from agent_runner.errors import InvalidInputError
from ai.stigmer.agentic.skill.v1.api_pb2 import Skill

SKILLS_DIR = "skills"
# One path segment, no dot-files, no separators: the slug becomes a directory name.
_SAFE_SLUG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


class SkillWriteError(RuntimeError):
    """The sandbox refused a skill file."""


@dataclass(frozen=True)
class SkillEntry:
    slug: str
    name: str
    description: str
    content: str

    @property
    def path(self) -> str:
        # The file tools see the workspace as `/`; the shell's cwd is the workspace.
        return f"/{SKILLS_DIR}/{self.slug}/SKILL.md"


def skill_entries(skills: Sequence[Skill]) -> list[SkillEntry]:
    """Checks every slug before anything is written, so a bad one leaves no partial set."""
    entries = []
    for index, skill in enumerate(skills):
        slug = skill.metadata.slug
        if not _SAFE_SLUG.match(slug) or ".." in slug:
            raise InvalidInputError(
                f"skills[{index}].metadata.slug {slug!r} is not a safe single path segment "
                "(expected letters, digits, '.', '_' or '-', not starting with '.')"
            )
        entries.append(
            SkillEntry(
                slug=slug,
                name=skill.metadata.name or slug,
                description=" ".join(skill.spec.description.split()),
                content=skill.spec.markdown_content,
            )
        )
    return entries


async def write_skills(backend: SandboxBackendProtocol, entries: Sequence[SkillEntry]) -> None:
    if not entries:
        return
    responses = await backend.aupload_files(
        [(entry.path, entry.content.encode("utf-8")) for entry in entries]
    )
    failed = [f"{r.path}: {r.error}" for r in responses if r.error]
    if failed:
        raise SkillWriteError("could not write skill files: " + "; ".join(failed))


def skills_prompt(entries: Sequence[SkillEntry]) -> str:
    if not entries:
        return ""
    lines = [
        "## Skills",
        "",
        "Skills hold instructions for particular kinds of work. Only their summaries are "
        "listed here. When a task matches a skill, read its SKILL.md first (with `read_file` "
        "at the path shown, or from the shell at the same path without the leading `/`) and "
        "follow it.",
        "",
    ]
    lines += [f"- **{e.name}**: {e.description} (`{e.path}`)" for e in entries]
    return "\n".join(lines)
