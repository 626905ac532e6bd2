"""The server's configuration: read once from the environment, validated, then frozen."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import TypeVar

from stigmer_contracts import ATTEMPTS_PER_ROUND, EXECUTE_GRAPHTON_OPTIONS
from stigmer_server import _env

_T = TypeVar("_T")


class SessionPolicy(StrEnum):
    """What a second turn in a session does while the first still runs."""

    ENQUEUE = "enqueue"
    REJECT = "reject"


class ConfigError(ValueError):
    """Every missing or malformed setting, named at once."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid configuration:\n  " + "\n  ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class TurnOptions:
    """How the workflow runs ExecuteGraphton (defaults from the contract)."""

    start_to_close: timedelta
    heartbeat: timedelta
    maximum_attempts: int


@dataclass(frozen=True)
class ReconcileOptions:
    """How often to look for turns stuck between phases, and how old they must be."""

    interval: float
    grace: float


@dataclass(frozen=True)
class ServerConfig:
    address: str
    db_url: str
    data_dir: Path
    api_keys: tuple[str, ...]
    temporal_host_port: str
    temporal_namespace: str
    execution_task_queue: str
    persistence_task_queue: str
    session_policy: SessionPolicy
    turn: TurnOptions
    reconcile: ReconcileOptions
    metrics_address: str
    log_level: str
    log_format: str
    # Bootstrap `runner` keys (local mode gives its runner one); empty by default.
    runner_keys: tuple[str, ...] = ()
    secrets_key_file: Path | None = None
    # The key file's lines given as one value (STIGMER_SECRETS_KEYS); never in a repr.
    secrets_keys: str = ""
    http_address: str = _env.HTTP_ADDRESS_DEFAULT
    cors_origins: tuple[str, ...] = ()
    console_dir: Path | None = None

    def __repr__(self) -> str:
        # API keys never reach a log line, even through a debug print of the config.
        return (
            f"ServerConfig(address={self.address!r}, http_address={self.http_address!r}, "
            f"db_url={_redact_url(self.db_url)!r}, "
            f"api_keys=<{len(self.api_keys)} keys>, runner_keys=<{len(self.runner_keys)} keys>, "
            f"secrets_keys=<{'set' if self.secrets_keys else 'unset'}>, "
            f"temporal={self.temporal_host_port!r}/"
            f"{self.temporal_namespace!r}, queues=({self.execution_task_queue!r}, "
            f"{self.persistence_task_queue!r}), session_policy={self.session_policy.value!r})"
        )


def load_config(environ: Mapping[str, str]) -> ServerConfig:
    """Build the config from `environ`; raise ConfigError naming every bad value."""
    problems: list[str] = []

    def get(name: str, default: str) -> str:
        return environ.get(name, "").strip() or default

    def parse(name: str, default: _T, convert: Callable[[str], _T], expected: str) -> _T:
        raw = environ.get(name, "").strip()
        if not raw:
            return default
        try:
            return convert(raw)
        except ValueError:
            problems.append(f"{name}={raw!r}: expected {expected}")
            return default

    address = get(_env.SERVER_ADDRESS, _env.SERVER_ADDRESS_DEFAULT)
    if not _is_host_port(address):
        problems.append(f"{_env.SERVER_ADDRESS}={address!r}: expected host:port")
    http_address = get(_env.HTTP_ADDRESS, _env.HTTP_ADDRESS_DEFAULT)
    if not _is_host_port(http_address):
        problems.append(f"{_env.HTTP_ADDRESS}={http_address!r}: expected host:port")
    raw_origins = environ.get(_env.HTTP_CORS_ORIGINS, "").split(",")
    cors_origins = tuple(o.strip().rstrip("/") for o in raw_origins if o.strip())
    for origin in cors_origins:
        if origin != "*" and not origin.startswith(("http://", "https://")):
            problems.append(
                f"{_env.HTTP_CORS_ORIGINS}: {origin!r}: expected origins like https://host[:port]"
            )
    console_raw = environ.get(_env.CONSOLE_DIR, "").strip()
    console_dir = Path(console_raw).expanduser() if console_raw else _checkout_console()
    data_dir = Path(get(_env.DATA_DIR, _env.DATA_DIR_DEFAULT)).expanduser()
    db_url = get(_env.DB_URL, f"sqlite+aiosqlite:///{data_dir / 'stigmer.db'}")
    if not db_url.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
        problems.append(
            f"{_env.DB_URL}={_redact_url(db_url)!r}: expected a sqlite+aiosqlite:// "
            "or postgresql+asyncpg:// URL"
        )
    keys = tuple(k.strip() for k in environ.get(_env.API_KEYS, "").split(",") if k.strip())
    if not keys:
        problems.append(f"{_env.API_KEYS}: required (comma-separated API keys), missing")
    runner_keys = tuple(
        k.strip() for k in environ.get(_env.RUNNER_KEYS, "").split(",") if k.strip()
    )
    key_file = environ.get(_env.SECRETS_KEY_FILE, "").strip()
    if key_file and not Path(key_file).expanduser().is_file():
        problems.append(f"{_env.SECRETS_KEY_FILE}={key_file!r}: no such file")
    secrets_keys = environ.get(_env.SECRETS_KEYS, "").strip()
    if key_file and secrets_keys:
        problems.append(
            f"{_env.SECRETS_KEY_FILE} and {_env.SECRETS_KEYS}: set one of them, not both"
        )
    temporal = get(_env.TEMPORAL_HOST_PORT, _env.TEMPORAL_HOST_PORT_DEFAULT)
    if not _is_host_port(temporal):
        problems.append(f"{_env.TEMPORAL_HOST_PORT}={temporal!r}: expected host:port")
    policy = parse(
        _env.SESSION_POLICY, SessionPolicy.ENQUEUE, SessionPolicy, "one of enqueue, reject"
    )
    defaults = EXECUTE_GRAPHTON_OPTIONS
    turn = TurnOptions(
        start_to_close=parse(
            _env.EXECUTE_GRAPHTON_TIMEOUT,
            defaults.start_to_close_timeout,
            _positive_seconds,
            "a positive number of seconds",
        ),
        heartbeat=parse(
            _env.EXECUTE_GRAPHTON_HEARTBEAT,
            defaults.heartbeat_timeout or timedelta(seconds=30),
            _positive_seconds,
            "a positive number of seconds",
        ),
        maximum_attempts=parse(
            _env.EXECUTE_GRAPHTON_ATTEMPTS,
            defaults.retry_policy.maximum_attempts,
            _positive_int,
            "a positive integer",
        ),
    )
    if turn.maximum_attempts >= ATTEMPTS_PER_ROUND:
        problems.append(
            f"{_env.EXECUTE_GRAPHTON_ATTEMPTS}={turn.maximum_attempts}: expected fewer than "
            f"{ATTEMPTS_PER_ROUND}"
        )
    reconcile = ReconcileOptions(
        interval=parse(
            _env.RECONCILE_INTERVAL,
            _env.RECONCILE_INTERVAL_DEFAULT,
            _non_negative_float,
            "0 (off) or a positive number of seconds",
        ),
        grace=parse(
            _env.RECONCILE_GRACE,
            _env.RECONCILE_GRACE_DEFAULT,
            _non_negative_float,
            "a number of seconds, 0 or more",
        ),
    )
    metrics_address = get(_env.METRICS_ADDRESS, "")
    if metrics_address and not _is_host_port(metrics_address):
        problems.append(f"{_env.METRICS_ADDRESS}={metrics_address!r}: expected host:port")
    log_level = get(_env.LOG_LEVEL, _env.LOG_LEVEL_DEFAULT).upper()
    if not isinstance(logging.getLevelName(log_level), int):
        problems.append(f"{_env.LOG_LEVEL}={log_level!r}: expected DEBUG, INFO, WARNING or ERROR")
    log_format = get(_env.LOG_FORMAT, _env.LOG_FORMAT_DEFAULT).lower()
    if log_format not in ("text", "json"):
        problems.append(f"{_env.LOG_FORMAT}={log_format!r}: expected text or json")
    if problems:
        raise ConfigError(problems)
    return ServerConfig(
        address=address,
        db_url=db_url,
        data_dir=data_dir,
        api_keys=keys,
        temporal_host_port=temporal,
        temporal_namespace=get(_env.TEMPORAL_NAMESPACE, _env.TEMPORAL_NAMESPACE_DEFAULT),
        execution_task_queue=get(_env.EXECUTION_TASK_QUEUE, _env.EXECUTION_TASK_QUEUE_DEFAULT),
        persistence_task_queue=get(
            _env.PERSISTENCE_TASK_QUEUE, _env.PERSISTENCE_TASK_QUEUE_DEFAULT
        ),
        session_policy=policy,
        turn=turn,
        reconcile=reconcile,
        metrics_address=metrics_address,
        log_level=log_level,
        log_format=log_format,
        runner_keys=runner_keys,
        secrets_key_file=Path(key_file).expanduser() if key_file else None,
        secrets_keys=secrets_keys,
        http_address=http_address,
        cors_origins=cors_origins,
        console_dir=console_dir,
    )


def _checkout_console() -> Path | None:
    """client-apps/console/dist when the server runs from a checkout (src/stigmer_server)."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        candidate = parent / "client-apps" / "console" / "dist"
        if candidate.is_dir():
            return candidate
    return None


def _is_host_port(value: str) -> bool:
    host, sep, port = value.rpartition(":")
    return bool(sep and host and port.isdigit() and 0 <= int(port) <= 65535)


def _positive_seconds(raw: str) -> timedelta:
    seconds = float(raw)
    if seconds <= 0:
        raise ValueError(raw)
    return timedelta(seconds=seconds)


def _non_negative_float(raw: str) -> float:
    value = float(raw)
    if value < 0:
        raise ValueError(raw)
    return value


def _positive_int(raw: str) -> int:
    value = int(raw)
    if value <= 0:
        raise ValueError(raw)
    return value


def _redact_url(url: str) -> str:
    """The URL without its password (postgresql+asyncpg://user:secret@host -> user:***@host)."""
    scheme, sep, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    if not (sep and at and ":" in credentials):
        return url
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}"
