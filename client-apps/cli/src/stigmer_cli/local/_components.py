"""The three processes of local mode: how each is started and what it is handed."""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from stigmer_cli import _env
from stigmer_cli._errors import CliError
from stigmer_cli.local._layout import LOOPBACK, LocalSettings

TEMPORAL = "temporal"
SERVER = "stigmer-server"
RUNNER = "agent-runner"
COMPONENTS = (TEMPORAL, SERVER, RUNNER)
TEMPORAL_NAMESPACE = "default"

# Stopping: the runner first (its draining turns still need the server and Temporal), then
# the server, then Temporal. Each gets SIGTERM, then SIGKILL after its stop grace, which
# covers its own shutdown: the runner lets running turns go on for RUNNER_DRAIN_SECONDS
# (handed to it as SHUTDOWN_GRACE_SECONDS), then cancels the rest, whose final status
# updates retry with backoff for up to ~8 s; the server stops serving within 5 s.
STOP_ORDER = (RUNNER, SERVER, TEMPORAL)
RUNNER_DRAIN_SECONDS = 30.0
STOP_GRACE_SECONDS = {RUNNER: RUNNER_DRAIN_SECONDS + 15.0, SERVER: 10.0, TEMPORAL: 10.0}
# How long the whole stop may take, one component after another, with a margin.
SUPERVISOR_STOP_SECONDS = sum(STOP_GRACE_SECONDS.values()) + 10.0

# Keep the children's environment small: the user's shell may hold provider keys (which the
# runner needs) but also unrelated secrets, and STIGMER_* settings of another installation.
# OTEL_: tracing reaches the services as configured in the shell (docs/guides/observability.md).
_PASSED_THROUGH_PREFIXES = ("ANTHROPIC_", "OPENAI_", "OLLAMA_", "DAYTONA_", "LANGSMITH_", "OTEL_")
# PYTHONPATH: a launcher that runs from an import path (Bazel's runfiles) hands it on, so
# `python -m stigmer_server` finds the same packages as the CLI.
_PASSED_THROUGH = (
    "PATH",
    "HOME",
    "USER",
    "LANG",
    "LC_ALL",
    "TZ",
    "TMPDIR",
    "SSL_CERT_FILE",
    "PYTHONPATH",
    "LOG_LEVEL",
    "LOG_FORMAT",
)


@dataclass(frozen=True)
class ComponentSpec:
    name: str
    argv: tuple[str, ...]
    env: dict[str, str]
    address: str
    # Seconds between SIGTERM and SIGKILL when the supervisor stops it.
    stop_grace: float


def build_specs(
    settings: LocalSettings, api_key: str, *, runner_key: str
) -> dict[str, ComponentSpec]:
    """The three processes; the server knows both keys, the runner only its own."""
    layout = settings.layout
    base = _base_env()
    temporal = {
        _env.TEMPORAL_HOST_PORT: settings.temporal_address,
        _env.TEMPORAL_NAMESPACE: TEMPORAL_NAMESPACE,
    }
    return {
        TEMPORAL: ComponentSpec(
            name=TEMPORAL,
            argv=(
                settings.temporal_bin,
                "server",
                "start-dev",
                "--ip",
                "127.0.0.1",
                "--port",
                str(settings.temporal_port),
                "--ui-port",
                str(settings.temporal_ui_port),
                "--db-filename",
                str(layout.temporal_db),
                "--log-level",
                "warn",
            ),
            env=base,
            address=settings.temporal_address,
            stop_grace=STOP_GRACE_SECONDS[TEMPORAL],
        ),
        SERVER: ComponentSpec(
            name=SERVER,
            argv=settings.server_command,
            env={
                **base,
                **temporal,
                _env.STIGMER_SERVER_ADDRESS: settings.server_address,
                _env.DATA_DIR: str(layout.home),
                _env.SERVER_DB_URL: f"sqlite+aiosqlite:///{layout.server_db}",
                _env.SERVER_API_KEYS: api_key,
                _env.SERVER_RUNNER_KEYS: runner_key,
                _env.SERVER_SECRETS_KEY_FILE: str(layout.secrets_key_file),
                **_metrics(_env.SERVER_METRICS_ADDRESS, settings.server_metrics_port),
                _env.SERVER_HTTP_ADDRESS: f"{LOOPBACK}:{settings.http_port}",
            },
            address=settings.server_address,
            stop_grace=STOP_GRACE_SECONDS[SERVER],
        ),
        RUNNER: ComponentSpec(
            name=RUNNER,
            argv=settings.runner_command,
            env={
                **base,
                **temporal,
                _env.RUNNER_BACKEND_ENDPOINT: settings.server_address,
                _env.STIGMER_API_KEY: runner_key,
                _env.DATA_DIR: str(layout.runner_dir),
                # Switching local mode to Daytona is configuration only: SANDBOX_TYPE from the
                # shell (with the DAYTONA_* variables passed through above).
                _env.RUNNER_SANDBOX_TYPE: os.environ.get(_env.RUNNER_SANDBOX_TYPE) or "local",
                _env.RUNNER_SHUTDOWN_GRACE: f"{RUNNER_DRAIN_SECONDS:g}",
                # One person's own machine: `scripted:<path>` plays a script anywhere they
                # can read, unless their shell narrows it (a shared runner sets none).
                _env.RUNNER_SCRIPTS_DIR: os.environ.get(_env.RUNNER_SCRIPTS_DIR) or "/",
                **_metrics(_env.RUNNER_METRICS_ADDRESS, settings.runner_metrics_port),
            },
            address=f"task queue on {settings.temporal_address}",
            stop_grace=STOP_GRACE_SECONDS[RUNNER],
        ),
    }


def _metrics(name: str, port: int) -> dict[str, str]:
    return {name: f"{LOOPBACK}:{port}"} if port else {}


def _base_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k in _PASSED_THROUGH}
    env.update({k: v for k, v in os.environ.items() if k.startswith(_PASSED_THROUGH_PREFIXES)})
    env["PYTHONUNBUFFERED"] = "1"
    return env


def find_temporal(repo_root: Path | None) -> str:
    """STIGMER_TEMPORAL_BIN when set (it must work), else .tools/bin/temporal, else PATH."""
    explicit = os.environ.get(_env.STIGMER_TEMPORAL_BIN)
    if explicit:
        if _executable(Path(explicit)):
            return explicit
        raise CliError(
            f"{_env.STIGMER_TEMPORAL_BIN}={explicit} is not an executable file",
            fix="point it at the Temporal CLI binary, or unset it",
        )
    candidates = [repo_root / ".tools" / "bin" / "temporal"] if repo_root is not None else []
    on_path = shutil.which("temporal")
    if on_path:
        candidates.append(Path(on_path))
    for candidate in candidates:
        if _executable(candidate):
            return str(candidate)
    raise CliError(
        "the Temporal CLI was not found (looked in .tools/bin and on PATH)",
        fix="run `make setup` in the stigmer checkout, install it (brew install temporal), "
        f"or set {_env.STIGMER_TEMPORAL_BIN}",
    )


def _executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def find_service(script: str, module: str) -> tuple[str, ...]:
    """The service's console script next to this interpreter, else `python -m <module>`."""
    beside = Path(sys.executable).parent / script
    if beside.is_file() and os.access(beside, os.X_OK):
        return (str(beside),)
    on_path = shutil.which(script)
    if on_path:
        return (on_path,)
    if importlib.util.find_spec(f"{module}.__main__") is not None:
        return (sys.executable, "-m", module)
    raise CliError(
        f"the {script} program was not found (no `{script}` script, no `{module}` package)",
        fix="run `make setup` in the stigmer checkout (uv sync installs it)",
    )


def repo_root() -> Path | None:
    """The checkout this CLI runs from, when it runs from one (the directory with uv.lock)."""
    for parent in Path(__file__).resolve().parents:
        if (parent / "uv.lock").is_file() and (parent / "apis").is_dir():
            return parent
    return None
