from __future__ import annotations

import pytest

from agent_runner.environment import Redactor, merge_environment
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
    assert redact.holdback == 7
    assert not Redactor([]).active
    assert Redactor([]).__call__("text") == "text"
