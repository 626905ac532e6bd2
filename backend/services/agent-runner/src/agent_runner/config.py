"""The runner's configuration: read once from the environment, validated, then passed down.

Every problem is collected first and reported together, so a newcomer fixes their `.env` in
one go instead of one variable per start.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from agent_runner import env_names as names
from stigmer_contracts import AGENT_EXECUTION_TASK_QUEUE_DEFAULT

# Offline by default: a clearly named scripted model, never a silent provider call.
DEFAULT_MODEL = "scripted:demo"
SANDBOX_TYPES = ("local", "daytona")
DEFAULT_DAYTONA_API_URL = "https://app.daytona.io/api"
ISOLATION_MODES = ("auto", "bwrap", "none")
LOG_FORMATS = ("text", "json")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
DEFAULT_MAX_COMMAND_TIMEOUT = 1800
# A turn mostly waits on its model: the runner's own work is a small share of a turn's time
# (docs/benchmarks/load.md), so one process keeps many turns in flight. 32 leaves room for the
# CPU that sandboxed commands and the status path take, on a 2-core machine included; raise
# it for turns that only talk, lower it for turns that compile or test in their sandboxes.
DEFAULT_MAX_CONCURRENT_TURNS = 32
_N = TypeVar("_N", int, float)
_KIND_NAMES: dict[type, str] = {int: "an integer", float: "a number"}


class ConfigError(ValueError):
    """One or more variables are missing or invalid; the message names all of them."""


# The settings below are plain values on purpose: this module must import nothing heavy
# (langchain, deepagents), so the worker polls before the agent stack has finished loading.


@dataclass(frozen=True)
class ProviderDefaults:
    """Provider settings used when the turn's environment does not bring its own."""

    anthropic_api_key: str = ""
    anthropic_base_url: str = ""
    openai_api_key: str = ""
    openai_base_url: str = ""
    ollama_base_url: str = ""
    # `scripted:<path>` reads script files below this directory only (None: no file at all,
    # only the shipped scripts), so a model string cannot make the runner read its host.
    scripts_dir: Path | None = None


@dataclass(frozen=True)
class LocalSandboxSettings:
    root: Path
    # Seconds a command gets unless the model asks for another timeout, which is clamped to
    # max_command_timeout (None: to command_timeout).
    command_timeout: int
    max_output_bytes: int
    # "auto" uses bubblewrap when it works here, "bwrap" requires it, "none" never uses it.
    isolation: str
    network: bool
    max_command_timeout: int | None = None


@dataclass(frozen=True)
class DaytonaSettings:
    api_key: str = field(repr=False)
    api_url: str
    target: str
    snapshot: str
    # Minutes, as Daytona counts them: auto-stop after inactivity, auto-delete once stopped.
    auto_stop_minutes: int
    auto_delete_minutes: int
    start_timeout: float
    command_timeout: int
    max_output_bytes: int
    max_command_timeout: int | None = None


@dataclass(frozen=True)
class ReaperSettings:
    """Every `interval` seconds (0 = never), delete our sandboxes whose session is gone or
    that were idle for `idle_ttl` seconds."""

    interval: float
    idle_ttl: float


@dataclass(frozen=True)
class FlushPolicy:
    """When status updates go out: after max_events, or max_delay seconds after the first.

    Watchers see streamed text at once through previews (never stored), so the stored
    status only has to keep up for durability and late readers: batching a second of
    tokens keeps a turn's updates, and the server's work per turn, few. Tool calls, phase
    changes and the end of a turn still go out at once.
    """

    max_events: int = 100
    max_delay: float = 1.0
    final_attempts: int = 8
    final_backoff: float = 0.5


@dataclass(frozen=True)
class TurnSettings:
    default_model: str
    flush: FlushPolicy


@dataclass(frozen=True)
class RunnerConfig:
    backend_endpoint: str
    api_key: str
    temporal_address: str
    temporal_namespace: str
    task_queue: str
    data_dir: Path
    sandbox_type: str
    sandbox: LocalSandboxSettings
    daytona: DaytonaSettings | None
    sandbox_owner: str
    reaper: ReaperSettings
    default_model: str
    providers: ProviderDefaults
    checkpoint_db_url: str
    flush: FlushPolicy
    heartbeat_interval: float
    max_concurrent_turns: int
    shutdown_grace: float
    log_level: str
    log_format: str
    # host:port of /metrics; empty: no metrics endpoint.
    metrics_address: str = ""

    @property
    def checkpoint_target(self) -> str:
        """Where checkpoints go, safe to log (a PostgreSQL URL loses its password)."""
        if not self.checkpoint_db_url:
            return str(self.data_dir / "checkpoints.sqlite")
        scheme, _, rest = self.checkpoint_db_url.partition("://")
        return f"{scheme}://{rest.rpartition('@')[2]}"


def postgres_url(url: str) -> str:
    """The libpq form of a PostgreSQL URL: the server's SQLAlchemy URL works here too."""
    scheme, sep, rest = url.partition("://")
    if sep and (scheme == "postgres" or scheme.startswith("postgresql+")):
        return f"postgresql://{rest}"
    return url


class _EnvReader:
    """Reads typed variables, collecting every problem instead of stopping at the first."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = env
        self.problems: list[str] = []

    def required(self, name: str) -> str:
        value = self._env.get(name, "").strip()
        if not value:
            self.problems.append(f"{name} is required")
        return value

    def optional(self, name: str, default: str) -> str:
        return self._env.get(name, "").strip() or default

    def host_port(self, name: str) -> str:
        """An optional `host:port` (port 0 picks a free one); empty when unset."""
        value = self.optional(name, "")
        host, sep, port = value.rpartition(":")
        if value and not (sep and host and port.isdigit() and int(port) < 65536):
            self.problems.append(f"{name} must be host:port, e.g. 127.0.0.1:9464 (got {value!r})")
        return value

    def choice(
        self,
        name: str,
        default: str,
        allowed: tuple[str, ...],
        transform: Callable[[str], str] = str.lower,
    ) -> str:
        value = transform(self.optional(name, default))
        if value not in allowed:
            self.problems.append(f"{name} must be one of {', '.join(allowed)} (got {value!r})")
        return value

    def number(self, name: str, default: _N, kind: type[_N], minimum: _N) -> _N:
        raw = self.optional(name, str(default))
        try:
            value = kind(raw)
        except ValueError:
            self.problems.append(f"{name} must be {_KIND_NAMES[kind]} (got {raw!r})")
            return default
        if value < minimum:
            self.problems.append(f"{name} must be at least {minimum} (got {raw!r})")
        return value


def load_config(env: Mapping[str, str]) -> RunnerConfig:
    read = _EnvReader(env)
    endpoint = read.required(names.STIGMER_BACKEND_ENDPOINT)
    api_key = read.required(names.STIGMER_API_KEY)
    temporal = read.required(names.TEMPORAL_HOST_PORT)
    data_dir = read.required(names.STIGMER_DATA_DIR)
    sandbox_type = read.choice(names.SANDBOX_TYPE, "local", SANDBOX_TYPES)
    root = Path(data_dir or ".").expanduser().resolve()
    sandbox = _local_sandbox(read, root)
    daytona = _daytona(read, sandbox) if sandbox_type == "daytona" else None
    checkpoint_db_url = _checkpoint_db_url(read)
    config = RunnerConfig(
        backend_endpoint=endpoint,
        api_key=api_key,
        temporal_address=temporal,
        temporal_namespace=read.optional(names.TEMPORAL_NAMESPACE, "default"),
        task_queue=read.optional(
            names.TEMPORAL_AGENT_EXECUTION_TASK_QUEUE, AGENT_EXECUTION_TASK_QUEUE_DEFAULT
        ),
        data_dir=root,
        sandbox_type=sandbox_type,
        sandbox=sandbox,
        daytona=daytona,
        sandbox_owner=read.optional(names.SANDBOX_OWNER, "stigmer"),
        reaper=ReaperSettings(
            interval=read.number(names.SANDBOX_REAP_INTERVAL_SECONDS, 600.0, float, 0.0),
            idle_ttl=read.number(names.SANDBOX_IDLE_TTL_MINUTES, 1440.0, float, 0.0) * 60,
        ),
        default_model=read.optional(names.STIGMER_DEFAULT_MODEL, DEFAULT_MODEL),
        providers=_provider_defaults(read),
        checkpoint_db_url=checkpoint_db_url,
        flush=FlushPolicy(
            max_events=read.number(names.STATUS_FLUSH_MAX_EVENTS, FlushPolicy.max_events, int, 1),
            max_delay=read.number(
                names.STATUS_FLUSH_MAX_DELAY_MS, round(FlushPolicy.max_delay * 1000), int, 1
            )
            / 1000,
        ),
        heartbeat_interval=read.number(names.HEARTBEAT_INTERVAL_SECONDS, 2.0, float, 0.1),
        max_concurrent_turns=read.number(
            names.MAX_CONCURRENT_TURNS, DEFAULT_MAX_CONCURRENT_TURNS, int, 1
        ),
        shutdown_grace=read.number(names.SHUTDOWN_GRACE_SECONDS, 30.0, float, 0.0),
        log_level=read.choice(names.LOG_LEVEL, "INFO", LOG_LEVELS, str.upper),
        log_format=read.choice(names.LOG_FORMAT, "text", LOG_FORMATS),
        metrics_address=read.host_port(names.AGENT_RUNNER_METRICS_ADDRESS),
    )
    if read.problems:
        raise ConfigError("invalid agent-runner configuration: " + "; ".join(read.problems))
    return config


def _local_sandbox(read: _EnvReader, root: Path) -> LocalSandboxSettings:
    command_timeout = read.number(names.SANDBOX_COMMAND_TIMEOUT_SECONDS, 300, int, 1)
    # Unset, the maximum leaves the model room for a long build, and never undercuts the
    # default an operator raised.
    max_timeout = read.number(
        names.SANDBOX_MAX_COMMAND_TIMEOUT_SECONDS,
        max(DEFAULT_MAX_COMMAND_TIMEOUT, command_timeout),
        int,
        1,
    )
    if max_timeout < command_timeout:
        read.problems.append(
            f"{names.SANDBOX_MAX_COMMAND_TIMEOUT_SECONDS} must be at least "
            f"{names.SANDBOX_COMMAND_TIMEOUT_SECONDS} ({command_timeout}) (got {max_timeout})"
        )
    return LocalSandboxSettings(
        root=root / "sandboxes",
        command_timeout=command_timeout,
        max_output_bytes=read.number(names.SANDBOX_MAX_OUTPUT_BYTES, 100_000, int, 1024),
        isolation=read.choice(names.SANDBOX_ISOLATION, "auto", ISOLATION_MODES),
        network=read.choice(names.SANDBOX_NETWORK, "off", ("on", "off")) == "on",
        max_command_timeout=max_timeout,
    )


def _daytona(read: _EnvReader, sandbox: LocalSandboxSettings) -> DaytonaSettings:
    """Daytona's own settings; command limits are the same as the local sandbox's."""
    api_url = read.optional(names.DAYTONA_API_URL, DEFAULT_DAYTONA_API_URL).rstrip("/")
    if not api_url.startswith(("http://", "https://")):
        read.problems.append(f"{names.DAYTONA_API_URL} must be an http(s):// URL (got {api_url!r})")
    return DaytonaSettings(
        api_key=read.required(names.DAYTONA_API_KEY),
        api_url=api_url,
        target=read.optional(names.DAYTONA_TARGET, ""),
        snapshot=read.optional(names.DAYTONA_SNAPSHOT, ""),
        auto_stop_minutes=read.number(names.DAYTONA_AUTO_STOP_MINUTES, 15, int, 0),
        auto_delete_minutes=read.number(names.DAYTONA_AUTO_DELETE_MINUTES, 1440, int, -1),
        start_timeout=read.number(names.DAYTONA_START_TIMEOUT_SECONDS, 120.0, float, 1.0),
        command_timeout=sandbox.command_timeout,
        max_output_bytes=sandbox.max_output_bytes,
        max_command_timeout=sandbox.max_command_timeout,
    )


def _checkpoint_db_url(read: _EnvReader) -> str:
    url = postgres_url(read.optional(names.STIGMER_CHECKPOINT_DB_URL, ""))
    if url and not url.startswith("postgresql://"):
        read.problems.append(
            f"{names.STIGMER_CHECKPOINT_DB_URL} must be a postgresql:// URL, or unset for SQLite"
        )
    return url


def _provider_defaults(read: _EnvReader) -> ProviderDefaults:
    return ProviderDefaults(
        anthropic_api_key=read.optional(names.ANTHROPIC_API_KEY, ""),
        anthropic_base_url=read.optional(names.ANTHROPIC_BASE_URL, ""),
        openai_api_key=read.optional(names.OPENAI_API_KEY, ""),
        openai_base_url=read.optional(names.OPENAI_BASE_URL, ""),
        ollama_base_url=read.optional(names.OLLAMA_BASE_URL, ""),
        scripts_dir=_scripts_dir(read),
    )


def _scripts_dir(read: _EnvReader) -> Path | None:
    raw = read.optional(names.STIGMER_SCRIPTS_DIR, "")
    if not raw:
        return None
    path = Path(raw).expanduser().resolve()
    if not path.is_dir():
        read.problems.append(
            f"{names.STIGMER_SCRIPTS_DIR} must be an existing directory (got {raw!r})"
        )
    return path
