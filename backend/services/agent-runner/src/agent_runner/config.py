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
_N = TypeVar("_N", int, float)


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
    """When status updates go out: after max_events, or max_delay seconds after the first."""

    max_events: int = 10
    max_delay: float = 0.25
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


def load_config(env: Mapping[str, str]) -> RunnerConfig:
    problems: list[str] = []

    def required(name: str) -> str:
        value = env.get(name, "").strip()
        if not value:
            problems.append(f"{name} is required")
        return value

    def optional(name: str, default: str) -> str:
        return env.get(name, "").strip() or default

    def choice(
        name: str,
        default: str,
        allowed: tuple[str, ...],
        transform: Callable[[str], str] = str.lower,
    ) -> str:
        value = transform(optional(name, default))
        if value not in allowed:
            problems.append(f"{name} must be one of {', '.join(allowed)} (got {value!r})")
        return value

    def number(name: str, default: _N, kind: type[_N], minimum: _N) -> _N:
        raw = optional(name, str(default))
        try:
            value = kind(raw)
        except ValueError:
            problems.append(f"{name} must be a {kind.__name__} (got {raw!r})")
            return default
        if value < minimum:
            problems.append(f"{name} must be at least {minimum} (got {raw!r})")
        return value

    endpoint = required(names.STIGMER_BACKEND_ENDPOINT)
    api_key = required(names.STIGMER_API_KEY)
    temporal = required(names.TEMPORAL_HOST_PORT)
    namespace = optional(names.TEMPORAL_NAMESPACE, "default")
    data_dir = required(names.STIGMER_DATA_DIR)
    default_model = optional(names.STIGMER_DEFAULT_MODEL, DEFAULT_MODEL)
    sandbox_type = choice(names.SANDBOX_TYPE, "local", SANDBOX_TYPES)
    isolation = choice(names.SANDBOX_ISOLATION, "auto", ISOLATION_MODES)
    network = choice(names.SANDBOX_NETWORK, "off", ("on", "off"))
    command_timeout = number(names.SANDBOX_COMMAND_TIMEOUT_SECONDS, 300, int, 1)
    # Unset, the maximum leaves the model room for a long build, and never undercuts the
    # default an operator raised.
    max_timeout = number(
        names.SANDBOX_MAX_COMMAND_TIMEOUT_SECONDS,
        max(DEFAULT_MAX_COMMAND_TIMEOUT, command_timeout),
        int,
        1,
    )
    if max_timeout < command_timeout:
        problems.append(
            f"{names.SANDBOX_MAX_COMMAND_TIMEOUT_SECONDS} must be at least "
            f"{names.SANDBOX_COMMAND_TIMEOUT_SECONDS} ({command_timeout}) (got {max_timeout})"
        )
    max_output = number(names.SANDBOX_MAX_OUTPUT_BYTES, 100_000, int, 1024)
    max_events = number(names.STATUS_FLUSH_MAX_EVENTS, 10, int, 1)
    max_delay_ms = number(names.STATUS_FLUSH_MAX_DELAY_MS, 250, int, 1)
    heartbeat = number(names.HEARTBEAT_INTERVAL_SECONDS, 2.0, float, 0.1)
    concurrency = number(names.MAX_CONCURRENT_TURNS, 4, int, 1)
    grace = number(names.SHUTDOWN_GRACE_SECONDS, 30.0, float, 0.0)
    log_level = choice(names.LOG_LEVEL, "INFO", LOG_LEVELS, str.upper)
    log_format = choice(names.LOG_FORMAT, "text", LOG_FORMATS)
    owner = optional(names.SANDBOX_OWNER, "stigmer")
    reap_interval = number(names.SANDBOX_REAP_INTERVAL_SECONDS, 600.0, float, 0.0)
    idle_ttl = number(names.SANDBOX_IDLE_TTL_MINUTES, 1440.0, float, 0.0)
    daytona: DaytonaSettings | None = None
    if sandbox_type == "daytona":
        daytona = DaytonaSettings(
            api_key=required(names.DAYTONA_API_KEY),
            api_url=optional(names.DAYTONA_API_URL, DEFAULT_DAYTONA_API_URL).rstrip("/"),
            target=optional(names.DAYTONA_TARGET, ""),
            snapshot=optional(names.DAYTONA_SNAPSHOT, ""),
            auto_stop_minutes=number(names.DAYTONA_AUTO_STOP_MINUTES, 15, int, 0),
            auto_delete_minutes=number(names.DAYTONA_AUTO_DELETE_MINUTES, 1440, int, -1),
            start_timeout=number(names.DAYTONA_START_TIMEOUT_SECONDS, 120.0, float, 1.0),
            command_timeout=command_timeout,
            max_output_bytes=max_output,
            max_command_timeout=max_timeout,
        )
        if not daytona.api_url.startswith(("http://", "https://")):
            problems.append(
                f"{names.DAYTONA_API_URL} must be an http(s):// URL (got {daytona.api_url!r})"
            )
    checkpoint_db_url = postgres_url(optional(names.STIGMER_CHECKPOINT_DB_URL, ""))
    if checkpoint_db_url and not checkpoint_db_url.startswith("postgresql://"):
        problems.append(
            f"{names.STIGMER_CHECKPOINT_DB_URL} must be a postgresql:// URL, or unset for SQLite"
        )
    if problems:
        raise ConfigError("invalid agent-runner configuration: " + "; ".join(problems))
    root = Path(data_dir).expanduser().resolve()
    return RunnerConfig(
        backend_endpoint=endpoint,
        api_key=api_key,
        temporal_address=temporal,
        temporal_namespace=namespace,
        task_queue=optional(
            names.TEMPORAL_AGENT_EXECUTION_TASK_QUEUE, AGENT_EXECUTION_TASK_QUEUE_DEFAULT
        ),
        data_dir=root,
        sandbox_type=sandbox_type,
        sandbox=LocalSandboxSettings(
            root=root / "sandboxes",
            command_timeout=command_timeout,
            max_output_bytes=max_output,
            isolation=isolation,
            network=network == "on",
            max_command_timeout=max_timeout,
        ),
        daytona=daytona,
        sandbox_owner=owner,
        reaper=ReaperSettings(interval=reap_interval, idle_ttl=idle_ttl * 60),
        default_model=default_model,
        providers=ProviderDefaults(
            anthropic_api_key=optional(names.ANTHROPIC_API_KEY, ""),
            anthropic_base_url=optional(names.ANTHROPIC_BASE_URL, ""),
            openai_api_key=optional(names.OPENAI_API_KEY, ""),
            openai_base_url=optional(names.OPENAI_BASE_URL, ""),
            ollama_base_url=optional(names.OLLAMA_BASE_URL, ""),
        ),
        checkpoint_db_url=checkpoint_db_url,
        flush=FlushPolicy(max_events=max_events, max_delay=max_delay_ms / 1000),
        heartbeat_interval=heartbeat,
        max_concurrent_turns=concurrency,
        shutdown_grace=grace,
        log_level=log_level,
        log_format=log_format,
    )
