from __future__ import annotations

from pathlib import Path

import pytest

from agent_runner.environment import Redactor
from agent_runner.sandbox import SandboxShellBackend
from agent_runner.skills import skill_entries, skills_prompt, write_skills
from ai.stigmer.agentic.skill.v1.api_pb2 import Skill

PROMPT_SNAPSHOT = """## Skills

Skills hold instructions for particular kinds of work. Only their summaries are listed here. \
When a task matches a skill, read its SKILL.md first (with `read_file` at the path shown, or \
from the shell at the same path without the leading `/`) and follow it.

- **Hello World**: Greets the world. (`/skills/hello-world/SKILL.md`)
- **notes**: Keeps notes in the workspace. (`/skills/notes/SKILL.md`)"""


def skill(slug: str, name: str, description: str, body: str) -> Skill:
    result = Skill(api_version="agentic.stigmer.ai/v1", kind="Skill")
    result.metadata.slug = slug
    result.metadata.name = name
    result.spec.description = description
    result.spec.markdown_content = body
    return result


SKILLS = [
    skill("hello-world", "Hello World", "Greets\n the world.", "---\nname: hello\n---\nSAY HI\n"),
    skill("notes", "", "Keeps notes in the workspace.", "Write notes.\n"),
]


def backend(tmp_path: Path) -> SandboxShellBackend:
    return SandboxShellBackend(
        tmp_path,
        env={},
        timeout=5,
        max_output_bytes=1000,
        sandbox_id="local-test",
        prefix=[],
        redact=Redactor([]),
    )


def test_prompt_section_lists_name_description_and_path_only() -> None:
    prompt = skills_prompt(skill_entries(SKILLS))
    assert prompt == PROMPT_SNAPSHOT
    assert "SAY HI" not in prompt
    assert skills_prompt([]) == ""


async def test_skills_are_written_to_their_slug_directory(tmp_path: Path) -> None:
    await write_skills(backend(tmp_path), skill_entries(SKILLS))
    hello = (tmp_path / "skills" / "hello-world" / "SKILL.md").read_text()
    assert hello == "---\nname: hello\n---\nSAY HI\n"
    assert (tmp_path / "skills" / "notes" / "SKILL.md").read_text() == "Write notes.\n"


@pytest.mark.parametrize("slug", ["../escape", "a/b", ".hidden", "", "..", "x" * 200])
async def test_unsafe_slug_is_rejected_before_anything_is_written(
    tmp_path: Path, slug: str
) -> None:
    skills = [SKILLS[0], skill(slug, "bad", "bad", "bad")]
    with pytest.raises(ValueError, match=r"skills\[1\]\.metadata\.slug .* safe single path"):
        await write_skills(backend(tmp_path), skill_entries(skills))
    assert not (tmp_path / "skills").exists()
