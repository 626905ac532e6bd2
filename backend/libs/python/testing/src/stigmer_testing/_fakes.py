"""Fixtures that start the protocol fakes on 127.0.0.1 (port 0) for one test each.

Every fake fixture first clears the client libraries' own configuration from the process
(API keys, base URLs, Daytona settings) and moves the test into a temp directory, because
the Daytona SDK also reads `.env` files from the working directory: a test then reaches
only the fake it was given, never a service configured in the developer's shell.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from stigmer_testing.fakes import FakeAnthropic, FakeDaytona, FakeOllama, FakeOpenAI

_CLIENT_ENV = re.compile(r"^(ANTHROPIC_|OPENAI_|DAYTONA_|OLLAMA_HOST$)")


@pytest.fixture
def clean_client_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No provider or Daytona settings in the environment; cwd is an empty temp dir."""
    for name in list(os.environ):
        if _CLIENT_ENV.match(name):
            monkeypatch.delenv(name)
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    return workdir


@pytest.fixture
def fake_anthropic(clean_client_env: Path) -> Iterator[FakeAnthropic]:
    """A Messages API fake; clients use `base_url=fake.url`, `api_key=fake.api_key`."""
    with FakeAnthropic(api_key="sk-ant-fake-secret") as fake:
        yield fake


@pytest.fixture
def fake_openai(clean_client_env: Path) -> Iterator[FakeOpenAI]:
    """A chat-completions fake; clients use `base_url=fake.url + "/v1"`."""
    with FakeOpenAI(api_key="sk-openai-fake-secret") as fake:
        yield fake


@pytest.fixture
def fake_ollama(clean_client_env: Path) -> Iterator[FakeOllama]:
    """An Ollama `/api/chat` fake (no API key, like Ollama); clients use `base_url=fake.url`."""
    with FakeOllama() as fake:
        yield fake


@pytest.fixture
def fake_daytona(clean_client_env: Path, tmp_path: Path) -> Iterator[FakeDaytona]:
    """A Daytona fake; clients use `api_url=fake.api_url`, `api_key=fake.api_key`.
    Each sandbox is a directory under the test's tmp_path; its commands die with the fake."""
    base = tmp_path / "daytona"
    base.mkdir()
    with FakeDaytona(api_key="dtn-fake-secret", base_dir=base) as fake:
        yield fake
