"""Manifest parsing and validation: real YAML files into real proto messages."""

from __future__ import annotations

from pathlib import Path

import pytest

from ai.stigmer.agentic.agent.v1.api_pb2 import Agent
from ai.stigmer.agentic.agentinstance.v1.api_pb2 import AgentInstance
from ai.stigmer.agentic.environment.v1.api_pb2 import Environment
from ai.stigmer.agentic.mcpserver.v1.api_pb2 import McpServer
from ai.stigmer.commons.apiresource.enum_pb2 import ApiResourceKind
from stigmer_cli._errors import CliError
from stigmer_cli.manifest import ManifestError, load, slugify

REPO = Path(__file__).resolve().parents[3]
EXAMPLES = REPO / "examples"


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _problems(paths: list[Path]) -> list[str]:
    with pytest.raises(ManifestError) as caught:
        load(paths)
    return caught.value.problems


def test_examples_load_in_dependency_order_without_the_provider_files() -> None:
    documents = load([EXAMPLES])
    assert [(d.kind.name, d.slug) for d in documents] == [
        ("Skill", "hello-world"),
        ("Skill", "workspace-notes"),
        ("Environment", "demo-defaults"),
        ("Environment", "demo-overrides"),
        ("Agent", "demo-agent"),
        ("AgentInstance", "demo"),
    ]


def test_agent_references_by_slug_become_typed_references() -> None:
    agent = next(d for d in load([EXAMPLES]) if d.kind.name == "Agent")
    assert isinstance(agent.resource, Agent)
    spec = agent.resource.spec
    assert agent.resource.api_version == "agentic.stigmer.ai/v1"
    assert agent.resource.kind == "Agent"
    assert spec.model == "scripted:demo"
    assert [(r.kind, r.slug) for r in spec.skill_refs] == [
        (ApiResourceKind.API_RESOURCE_KIND_SKILL, "hello-world"),
        (ApiResourceKind.API_RESOURCE_KIND_SKILL, "workspace-notes"),
    ]
    assert spec.sub_agents[0].name == "researcher"
    assert spec.env_spec.data["DEMO_REGION"].value == "agent-default"
    assert [r.field for r in agent.references] == [
        "spec.skillRefs[0]",
        "spec.skillRefs[1]",
        "spec.subAgents[0].skillRefs[0]",
    ]


def test_the_mcp_example_declares_its_server_before_the_agent_that_references_it() -> None:
    documents = load([EXAMPLES / "mcp"])
    assert [(d.kind.name, d.slug) for d in documents] == [
        ("McpServer", "notes-mcp"),
        ("Agent", "mcp-demo-agent"),
        ("AgentInstance", "mcp-demo"),
    ]
    server = documents[0].resource
    assert isinstance(server, McpServer)
    assert server.spec.stdio.command == "python3"
    assert server.spec.stdio.env["NOTES_OWNER"] == "${GREETING}"
    assert list(server.spec.tools) == ["add_note", "read_notes", "echo"]
    agent = documents[1]
    assert isinstance(agent.resource, Agent)
    assert [(r.kind, r.slug) for r in agent.resource.spec.mcp_server_refs] == [
        (ApiResourceKind.API_RESOURCE_KIND_MCP_SERVER, "notes-mcp")
    ]
    assert [(r.kind.name, r.field) for r in agent.references] == [
        ("McpServer", "spec.mcpServerRefs[0]")
    ]


def test_sub_agent_mcp_server_refs_are_references_too(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "a.yaml",
        "apiVersion: agentic.stigmer.ai/v1\nkind: Agent\nmetadata: {name: a}\n"
        "spec:\n  subAgents:\n    - {name: r, mcpServerRefs: [tools-one]}\n",
    )
    (document,) = load([path])
    assert [(r.kind.name, r.slug, r.field) for r in document.references] == [
        ("McpServer", "tools-one", "spec.subAgents[0].mcpServerRefs[0]")
    ]


def test_durations_are_written_as_proto_json_strings(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "m.yaml",
        "apiVersion: agentic.stigmer.ai/v1\nkind: McpServer\nmetadata: {name: m}\n"
        "spec:\n  streamableHttp: {url: 'http://127.0.0.1:1/mcp'}\n  toolTimeout: 90.5s\n",
    )
    (document,) = load([path])
    assert isinstance(document.resource, McpServer)
    timeout = document.resource.spec.tool_timeout
    assert (timeout.seconds, timeout.nanos) == (90, 500_000_000)
    bad = _write(tmp_path, "b.yaml", path.read_text().replace("90.5s", "soon"))
    with pytest.raises(ManifestError, match=r"tool_timeout.*must end with"):
        load([bad])


def test_environment_values_accept_scalars_and_full_entries() -> None:
    overrides = next(d for d in load([EXAMPLES]) if d.slug == "demo-overrides")
    assert isinstance(overrides.resource, Environment)
    data = overrides.resource.spec.data
    assert data["GREETING"].value == "Hello from Stigmer"
    assert not data["GREETING"].is_secret
    assert data["DEMO_API_TOKEN"].is_secret
    assert data["DEMO_API_TOKEN"].description.startswith("A stand-in secret")


def test_instance_names_its_agent_by_slug_and_keeps_environment_order() -> None:
    instance = next(d for d in load([EXAMPLES]) if d.kind.name == "AgentInstance")
    assert isinstance(instance.resource, AgentInstance)
    assert instance.agent_slug == "demo-agent"
    assert instance.resource.spec.agent_id == ""
    assert [r.slug for r in instance.resource.spec.environment_refs] == [
        "demo-defaults",
        "demo-overrides",
    ]


def test_wrong_kind_names_file_document_and_field(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "two.yaml",
        "apiVersion: agentic.stigmer.ai/v1\nkind: Skill\nmetadata: {name: ok}\n"
        "spec: {description: fine}\n---\n"
        "apiVersion: agentic.stigmer.ai/v1\nkind: Agnet\nmetadata: {name: x}\nspec: {}\n",
    )
    [problem] = _problems([path])
    assert problem.startswith(f"{path}: document 2: kind: expected one of Skill, Environment")
    assert "'Agnet'" in problem


def test_unknown_nested_field_is_named_with_its_path(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "agent.yaml",
        "apiVersion: agentic.stigmer.ai/v1\nkind: Agent\nmetadata: {name: a}\n"
        "spec:\n  model: scripted:demo\n  subAgents:\n    - name: r\n      instructionz: hi\n",
    )
    [problem] = _problems([path])
    assert problem.startswith(f"{path}: document 1: spec.subAgents[0].instructionz: unknown field")
    assert "instructions" in problem


def test_every_problem_is_reported_at_once_and_nothing_is_returned(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "bad.yaml",
        "apiVersion: agentic.stigmer.ai/v2\nkind: Agent\nstatus: {}\n"
        "metadata: {name: 'Bad Agent', slug: Bad_Slug}\n"
        "spec: {description: 5, skillRefs: [{slug: s, kind: SKILL}]}\n",
    )
    problems = _problems([path])
    fields = [p.split(": ")[2] for p in problems]
    assert fields == [
        "status",
        "apiVersion",
        "metadata.slug",
        "spec.description",
        "spec.skillRefs[0].kind",
    ]
    assert "expected a string" in problems[3]
    assert "API_RESOURCE_KIND_SKILL" in problems[4]


def test_instance_rejects_agent_ids_and_bad_agent_slugs(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "instance.yaml",
        "apiVersion: agentic.stigmer.ai/v1\nkind: AgentInstance\nmetadata: {name: i}\n"
        "spec: {agentId: abc}\n---\n"
        "apiVersion: agentic.stigmer.ai/v1\nkind: AgentInstance\nmetadata: {name: j}\n"
        "spec: {agent: 42}\n",
    )
    problems = _problems([path])
    assert "document 1: spec.agentId: not accepted in manifests" in problems[0]
    assert "document 2: spec.agent: expected the slug of an Agent, got 42" in problems[1]


def test_duplicate_slugs_across_files_name_both(tmp_path: Path) -> None:
    text = "apiVersion: agentic.stigmer.ai/v1\nkind: Skill\nmetadata: {name: Same}\nspec: {}\n"
    first = _write(tmp_path, "a.yaml", text)
    second = _write(tmp_path, "b.yml", text)
    [problem] = _problems([tmp_path])
    assert problem == (
        f"{second}: document 1 (Skill same): also declared in {first}: document 1 (Skill same)"
    )


def test_non_mapping_documents_and_bad_yaml_are_located(tmp_path: Path) -> None:
    listed = _write(tmp_path, "list.yaml", "- just\n- a list\n")
    broken = _write(tmp_path, "broken.yaml", "kind: [unclosed\n")
    problems = _problems([listed, broken])
    assert problems[0] == (
        f"{listed}: document 1: expected a mapping with apiVersion, kind, metadata and spec"
    )
    assert problems[1].startswith(f"{broken}: not valid YAML")


def test_a_directory_without_manifests_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(CliError, match=r"holds no \.yaml or \.yml file"):
        load([tmp_path])


def test_slug_derived_from_name() -> None:
    assert slugify("Demo agent (Anthropic)") == "demo-agent-anthropic"
    assert slugify("  Hello, World!  ") == "hello-world"


def test_scalar_environment_values_become_strings_and_unset_fields_stay_empty(
    tmp_path: Path,
) -> None:
    path = _write(
        tmp_path,
        "env.yaml",
        "apiVersion: agentic.stigmer.ai/v1\nkind: Environment\nmetadata: {name: Ports}\n"
        "spec:\n  description:\n  data: {PORT: 8080, DEBUG: true, RATIO: 0.5, NAME: x}\n",
    )
    [document] = load([path])
    assert isinstance(document.resource, Environment)
    data = document.resource.spec.data
    assert {k: v.value for k, v in data.items()} == {
        "PORT": "8080",
        "DEBUG": "true",
        "RATIO": "0.5",
        "NAME": "x",
    }
    assert document.resource.spec.description == ""  # `description:` with no value is unset


def test_snake_case_field_names_are_accepted_too(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "skill.yaml",
        "apiVersion: agentic.stigmer.ai/v1\nkind: Skill\nmetadata: {name: S}\n"
        "spec: {markdown_content: body}\n",
    )
    [document] = load([path])
    assert document.resource.spec.markdown_content == "body"  # type: ignore[attr-defined]
