from __future__ import annotations

import pytest

from agent_runner.environment import MergedEnvironment, Redactor, merge_environment
from agent_runner.models import ModelSpecError, check_key_destinations
from ai.stigmer.commons.apiresource.environment_pb2 import EnvironmentValue


def plain(value: str) -> EnvironmentValue:
    return EnvironmentValue(value=value)


def secret(value: str) -> EnvironmentValue:
    return EnvironmentValue(value=value, is_secret=True)


def test_later_layers_win_in_order() -> None:
    merged = merge_environment(
        [
            ("agent", {"A": plain("agent"), "B": plain("agent"), "C": plain("agent")}),
            ("env-1", {"B": plain("env-1"), "C": plain("env-1")}),
            ("env-2", {"C": plain("env-2")}),
            ("runtime", {"D": plain("runtime")}),
        ]
    )
    assert merged.variables == {"A": "agent", "B": "env-1", "C": "env-2", "D": "runtime"}


def test_the_last_layer_decides_whether_a_value_is_secret() -> None:
    merged = merge_environment(
        [
            ("agent", {"TOKEN": secret("agent-token"), "KEEP": secret("kept-secret")}),
            ("runtime", {"TOKEN": plain("visible")}),
        ]
    )
    assert merged.secret_names == frozenset({"KEEP"})
    assert merged.redactor()("visible kept-secret") == "visible ***"


def test_a_bad_variable_name_names_its_layer() -> None:
    with pytest.raises(ValueError, match=r"environment 'prod': environment variable name '1X'"):
        merge_environment([("environment 'prod'", {"1X": plain("v")})])


def test_redactor_replaces_longest_secrets_first_and_ignores_tiny_values() -> None:
    redact = Redactor(["abcd", "abcdefgh", "1"])
    assert redact("abcdefgh abcd 1") == "*** *** 1"
    assert Redactor([]).__call__("text") == "text"


@pytest.mark.parametrize(
    ("text", "prefix", "suffix"),
    [
        ("plain text", 0, 0),
        ("ends with abc", 3, 0),  # could become abcd or abcdefgh: held back
        ("ends with abcdefg", 7, 0),
        ("ends with abcd", 4, 0),  # abcd is whole, but could still grow into abcdefgh
        ("efgh starts it", 0, 4),  # the end of abcdefgh
        ("h", 0, 1),
        ("", 0, 0),
    ],
)
def test_only_a_possible_part_of_a_secret_at_an_edge_is_held(
    text: str, prefix: int, suffix: int
) -> None:
    redact = Redactor(["abcd", "abcdefgh"])
    assert redact.partial_prefix(text) == prefix
    assert redact.partial_suffix(text) == suffix


def test_without_secrets_nothing_is_held() -> None:
    assert Redactor([]).partial_prefix("abc") == Redactor([]).partial_suffix("abc") == 0


def _layers(*layers: tuple[str, dict[str, str]]) -> MergedEnvironment:
    return merge_environment(
        (name, {k: EnvironmentValue(value=v) for k, v in data.items()}) for name, data in layers
    )


def test_a_provider_key_goes_only_to_a_base_url_of_its_own_layer() -> None:
    together = _layers(("team", {"OPENAI_BASE_URL": "https://proxy", "OPENAI_API_KEY": "sk-1"}))
    check_key_destinations(["openai:gpt-x"], together.origins)
    check_key_destinations(["openai:gpt-x"], _layers(("team", {"OPENAI_API_KEY": "sk-1"})).origins)
    # Only a model of that provider is concerned.
    redirect = _layers(("mine", {"OPENAI_BASE_URL": "https://elsewhere"}))
    check_key_destinations(["anthropic:claude-x", "scripted:demo"], redirect.origins)
    with pytest.raises(ModelSpecError, match="OPENAI_BASE_URL is set by mine but OPENAI_API_KEY"):
        check_key_destinations(["openai:gpt-x"], redirect.origins)
    split = _layers(
        ("team", {"ANTHROPIC_API_KEY": "sk-team"}),
        ("mine", {"ANTHROPIC_BASE_URL": "https://elsewhere"}),
    )
    with pytest.raises(ModelSpecError, match="would be from team"):
        check_key_destinations(["anthropic:claude-x"], split.origins)
