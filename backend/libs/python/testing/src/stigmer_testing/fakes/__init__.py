"""Protocol-level fakes of the external services Stigmer talks to, for tests.

Each fake is a real HTTP server on 127.0.0.1 that speaks the service's wire format closely
enough for the official client library; the model-provider fakes answer from a script.
"""

from stigmer_testing.fakes._http import Failure, FakeHttpServer, RecordedRequest, Response
from stigmer_testing.fakes._script import Reply, ScriptedProvider, ToolCall
from stigmer_testing.fakes.anthropic import FakeAnthropic
from stigmer_testing.fakes.daytona import FakeDaytona, FakeSandbox
from stigmer_testing.fakes.ollama import FakeOllama
from stigmer_testing.fakes.openai import FakeOpenAI

__all__ = [
    "Failure",
    "FakeAnthropic",
    "FakeDaytona",
    "FakeHttpServer",
    "FakeOllama",
    "FakeOpenAI",
    "FakeSandbox",
    "RecordedRequest",
    "Reply",
    "Response",
    "ScriptedProvider",
    "ToolCall",
]
