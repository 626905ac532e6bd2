"""MCP tool names (per server, provider-safe, never clashing) and `${NAME}` values."""

from __future__ import annotations

import pytest

from agent_runner.errors import InvalidInputError
from agent_runner.mcp import resolve_value, resolve_values, split_tool_name, tool_name
from agent_runner.status._tools import component


def test_names_carry_the_server_and_split_back() -> None:
    assert tool_name("github", "search_issues", set()) == "mcp_github_search_issues"
    assert split_tool_name("mcp_github_search_issues") == ("github", "search_issues")
    assert split_tool_name("mcp_my-server_echo") == ("my-server", "echo")
    for other in ("execute", "mcp_", "mcp_onlyserver", "task"):
        assert split_tool_name(other) is None


def test_two_servers_tools_of_one_name_do_not_clash() -> None:
    assert tool_name("alpha", "echo", set()) != tool_name("beta", "echo", set())


def test_unsafe_long_or_clashing_names_are_made_valid_and_distinct() -> None:
    dotted = tool_name("files", "fs.read/all", set())
    assert dotted == "mcp_files_fs_read_all"
    clash = tool_name("files", "fs_read_all", {dotted})
    assert clash != dotted
    assert clash.startswith("mcp_files_fs_read_all_")
    long = tool_name("s" * 40, "t" * 40, set())
    assert len(long) == 64
    assert long != tool_name("s" * 40, "t" * 41, set())
    assert all(c.isalnum() or c in "_-" for c in long + clash)


def test_the_status_component_names_the_server() -> None:
    shown = component("mcp_github_search_issues", {"q": "x"}, lambda text: text)
    assert shown.type == "mcp"
    assert dict(shown.context) == {"server": "github", "tool": "search_issues"}
    assert component("execute", {"command": "ls"}, lambda text: text).type == "terminal"


def test_values_name_variables_of_the_turn() -> None:
    variables = {"TOKEN": "s3cr3t", "HOST": "h"}
    assert resolve_value("Bearer ${TOKEN}", variables, where="w") == "Bearer s3cr3t"
    assert resolve_value("${HOST}:$$1", variables, where="w") == "h:$1"
    assert resolve_value("plain", variables, where="w") == "plain"
    assert resolve_values({"A": "${HOST}"}, variables, where="env") == {"A": "h"}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("${MISSING}", "env['A']: ${MISSING} names no variable of the turn's environment"),
        ("Bearer $TOKEN", "env['A']: unknown variable form at '$TOKEN'"),
        ("${bad name}", "unknown variable form"),
    ],
)
def test_bad_values_name_the_field(value: str, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message.replace("$", r"\$").replace("[", r"\[")):
        resolve_values({"A": value}, {"TOKEN": "x"}, where="env")
