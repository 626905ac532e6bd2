"""Small pieces of the commands: kind names, env flags, secret masking, log tails."""

from __future__ import annotations

from pathlib import Path

import pytest

from ai.stigmer.agentic.environment.v1.api_pb2 import Environment
from ai.stigmer.agentic.environment.v1.spec_pb2 import EnvironmentSpec
from ai.stigmer.commons.apiresource.environment_pb2 import EnvironmentValue
from stigmer_cli._errors import CliError
from stigmer_cli._kinds import AGENT_INSTANCE, EXECUTION, MCP_SERVER, kind_named
from stigmer_cli.commands._output import to_dict
from stigmer_cli.commands._run import _parse_env
from stigmer_cli.local._control import tail


@pytest.mark.parametrize(
    ("word", "kind"),
    [
        ("instances", AGENT_INSTANCE),
        ("AgentInstance", AGENT_INSTANCE),
        ("exec", EXECUTION),
        ("mcpservers", MCP_SERVER),
        ("McpServer", MCP_SERVER),
    ],
)
def test_kind_names_users_type(word: str, kind: object) -> None:
    assert kind_named(word) is kind


def test_unknown_kind_lists_the_known_ones() -> None:
    with pytest.raises(CliError) as caught:
        kind_named("agnets")
    assert caught.value.fix is not None
    assert "agents" in caught.value.fix
    assert "agent-instances" in caught.value.fix


def test_env_flags_keep_values_with_equals_signs_and_mark_secrets() -> None:
    parsed = _parse_env(["URL=http://x/?a=b", "EMPTY="], secret=False, environ={})
    assert parsed == {
        "URL": EnvironmentValue(value="http://x/?a=b"),
        "EMPTY": EnvironmentValue(value=""),
    }
    assert _parse_env(["TOKEN=s3"], secret=True, environ={})["TOKEN"].is_secret


def test_a_bare_name_takes_its_value_from_the_shell() -> None:
    parsed = _parse_env(["TOKEN"], secret=True, environ={"TOKEN": "from-shell"})
    assert parsed == {"TOKEN": EnvironmentValue(value="from-shell", is_secret=True)}


def test_a_bare_name_not_in_the_shell_names_the_option() -> None:
    with pytest.raises(CliError, match="--secret-env TOKEN: TOKEN is not set in this shell"):
        _parse_env(["TOKEN"], secret=True, environ={})
    with pytest.raises(CliError, match="expected NAME=VALUE or NAME"):
        _parse_env(["=x"], secret=False, environ={})


def test_secret_values_are_masked_in_printed_resources() -> None:
    environment = Environment(
        spec=EnvironmentSpec(
            data={
                "TOKEN": EnvironmentValue(value="s3cr3t", is_secret=True),
                "PLAIN": EnvironmentValue(value="visible"),
            }
        )
    )
    data = to_dict(environment)["spec"]["data"]
    assert data["TOKEN"]["value"] == "********"
    assert data["PLAIN"]["value"] == "visible"
    assert "s3cr3t" not in str(to_dict(environment))
    # As the server sends it (masked, empty), a secret still shows the mask.
    environment.spec.data["TOKEN"].value = ""
    assert to_dict(environment)["spec"]["data"]["TOKEN"]["value"] == "********"


@pytest.mark.parametrize(("lines", "shown"), [(0, ""), (2, "two\nthree"), (9, "one\ntwo\nthree")])
def test_a_log_tail_shows_the_last_lines_and_none_for_zero(
    tmp_path: Path, lines: int, shown: str
) -> None:
    log = tmp_path / "x.log"
    log.write_text("one\ntwo\nthree\n")
    assert tail(log, lines) == shown
