"""Naming the field that holds invalid UTF-8 in an undecodable request."""

from __future__ import annotations

import pytest
from google.protobuf.message import DecodeError

from ai.stigmer.agentic.agent.v1.api_pb2 import Agent
from ai.stigmer.agentic.environment.v1.api_pb2 import Environment
from ai.stigmer.commons.apiresource.environment_pb2 import EnvironmentValue
from stigmer_server.api._wire import find_invalid_utf8

MARK = "\u2603-marker"  # valid text we corrupt on the wire


def _corrupt(message_bytes: bytes) -> bytes:
    encoded = MARK.encode()
    assert encoded in message_bytes
    return message_bytes.replace(encoded, b"\xff" * len(encoded))


def test_names_a_nested_field() -> None:
    agent = Agent(api_version="v", kind="Agent")
    agent.metadata.name = "ok"
    agent.spec.sub_agents.add(name="r", instructions=MARK)
    data = _corrupt(agent.SerializeToString())
    with pytest.raises(DecodeError):
        Agent.FromString(data)
    assert find_invalid_utf8(Agent.DESCRIPTOR, data) == "spec.sub_agents.instructions"


def test_names_a_map_value() -> None:
    env = Environment()
    env.spec.data["KEY"].CopyFrom(EnvironmentValue(value=MARK))
    data = _corrupt(env.SerializeToString())
    assert find_invalid_utf8(Environment.DESCRIPTOR, data) == "spec.data.value.value"


def test_valid_and_truncated_messages_name_nothing() -> None:
    agent = Agent(api_version="agentic.stigmer.ai/v1", kind="Agent")
    agent.spec.instructions = "fine"
    data = agent.SerializeToString()
    assert find_invalid_utf8(Agent.DESCRIPTOR, data) is None
    assert find_invalid_utf8(Agent.DESCRIPTOR, data[:-3] + b"\x80") is None
