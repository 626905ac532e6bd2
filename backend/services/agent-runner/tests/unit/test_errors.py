"""Errors are classified once, with an explicit retry decision, from the real exception types."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import anthropic
import grpc
import httpx2 as httpx
import openai
import pytest
from grpc import aio
from langchain_core.exceptions import OutputParserException
from langgraph.errors import GraphRecursionError
from temporalio.exceptions import ApplicationError

from agent_runner.environment import merge_environment
from agent_runner.errors import RETRY_AFTER_CAP, InvalidInputError, SandboxStartError, classify
from agent_runner.models import ModelSpecError, ScriptError, parse_script, split_model_spec
from agent_runner.sandbox import LocalSandboxProvider, LocalSandboxSettings, check_spec
from agent_runner.skills import skill_entries
from ai.stigmer.agentic.agent.v1.spec_pb2 import SandboxSpec
from ai.stigmer.agentic.skill.v1.api_pb2 import Skill
from ai.stigmer.commons.apiresource.environment_pb2 import EnvironmentValue
from stigmer_contracts import (
    ERROR_INVALID_INPUT,
    ERROR_MODEL_REQUEST_REJECTED,
    ERROR_NOT_FOUND,
    NON_RETRYABLE_ERROR_TYPES,
)


def rpc_error(code: grpc.StatusCode) -> aio.AioRpcError:
    return aio.AioRpcError(code, aio.Metadata(), aio.Metadata(), details="session ses-1")


def http(status: int) -> httpx.Response:
    return httpx.Response(status, request=httpx.Request("POST", "http://provider.test/v1"))


@pytest.mark.parametrize(
    ("error", "kind", "retryable"),
    [
        (rpc_error(grpc.StatusCode.NOT_FOUND), ERROR_NOT_FOUND, False),
        (rpc_error(grpc.StatusCode.INVALID_ARGUMENT), ERROR_INVALID_INPUT, False),
        (rpc_error(grpc.StatusCode.UNAVAILABLE), "BackendError", True),
        (rpc_error(grpc.StatusCode.DEADLINE_EXCEEDED), "BackendError", True),
        (InvalidInputError("session_id cannot be empty"), ERROR_INVALID_INPUT, False),
        # Any other ValueError comes from code we call, not from our checks: retried.
        (ValueError("something deep in a library"), "TurnFailed", True),
        (json.JSONDecodeError("Expecting value", '{"choices": [', 13), "TurnFailed", True),
        (OutputParserException("tool call arguments are not JSON"), "TurnFailed", True),
        (ModelSpecError("model 'x' needs ANTHROPIC_API_KEY"), ERROR_INVALID_INPUT, False),
        (ScriptError("script 'x': replies must be a list"), ERROR_INVALID_INPUT, False),
        (GraphRecursionError("Recursion limit of 1000 reached"), ERROR_INVALID_INPUT, False),
        (SandboxStartError("cannot create the workspace"), "SandboxUnavailable", True),
        (
            anthropic.RateLimitError("slow down", response=http(429), body=None),
            "ModelUnavailable",
            True,
        ),
        (
            openai.InternalServerError("boom", response=http(503), body=None),
            "ModelUnavailable",
            True,
        ),
        (
            anthropic.AuthenticationError("bad key", response=http(401), body=None),
            ERROR_MODEL_REQUEST_REJECTED,
            False,
        ),
        (RuntimeError("something odd"), "TurnFailed", True),
    ],
)
def test_classification(error: BaseException, kind: str, retryable: bool) -> None:
    classified = classify(error)
    assert classified.type == kind
    assert classified.non_retryable is not retryable
    # The workflow's retry policy agrees for every type the runner marks final.
    assert (kind in NON_RETRYABLE_ERROR_TYPES) is not retryable


def test_an_application_error_passes_through_unchanged() -> None:
    original = ApplicationError("already classified", type="X", non_retryable=True)
    assert classify(original) is original


def limited(headers: dict[str, str]) -> anthropic.RateLimitError:
    request = httpx.Request("POST", "http://provider.test/v1")
    response = httpx.Response(429, headers=headers, request=request)
    return anthropic.RateLimitError("slow down", response=response, body=None)


@pytest.mark.parametrize(
    ("headers", "delay"),
    [
        ({"retry-after": "2.5"}, timedelta(seconds=2.5)),
        ({"retry-after-ms": "300", "retry-after": "9"}, timedelta(milliseconds=300)),
        ({"retry-after": "3600"}, RETRY_AFTER_CAP),
        ({"retry-after": "0"}, None),
        ({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}, None),
        ({}, None),
    ],
)
def test_a_provider_retry_after_becomes_the_next_delay_capped(
    headers: dict[str, str], delay: timedelta | None
) -> None:
    classified = classify(limited(headers))
    assert classified.type == "ModelUnavailable"
    assert classified.next_retry_delay == delay


def test_a_rejected_request_keeps_the_provider_message() -> None:
    error = openai.BadRequestError(
        "Error code: 400 - max_tokens is too large", response=http(400), body=None
    )
    classified = classify(error)
    assert classified.non_retryable
    assert "max_tokens is too large" in str(classified)


def test_an_error_inside_a_started_stream_is_retryable() -> None:
    stream_error = anthropic.APIStatusError("Overloaded", response=http(200), body=None)
    classified = classify(stream_error)
    assert classified.type == "ModelUnavailable"
    assert not classified.non_retryable


def _bad_skill() -> None:
    skill = Skill()
    skill.metadata.slug = "../escape"
    skill_entries([skill])


def _local(root: Path) -> LocalSandboxProvider:
    return LocalSandboxProvider(
        LocalSandboxSettings(
            root=root, command_timeout=5, max_output_bytes=1000, isolation="none", network=False
        )
    )


@pytest.mark.parametrize(
    "refuse",
    [
        lambda _: merge_environment([("agent env_spec", {"1X": EnvironmentValue(value="v")})]),
        lambda root: check_spec(SandboxSpec(type="daytona"), _local(root)),
        lambda _: _bad_skill(),
        lambda _: split_model_spec("mystery-model"),
        lambda _: parse_script("replies: 3", name="bad"),
        lambda root: asyncio.run(_local(root).delete("daytona-123")),
    ],
    ids=["env-name", "sandbox-type", "skill-slug", "model", "script", "sandbox-id"],
)
def test_the_runners_own_input_checks_are_permanent(
    refuse: Callable[[Path], object], tmp_path: Path
) -> None:
    with pytest.raises(InvalidInputError) as caught:
        refuse(tmp_path)
    classified = classify(caught.value)
    assert classified.type == ERROR_INVALID_INPUT
    assert classified.non_retryable
