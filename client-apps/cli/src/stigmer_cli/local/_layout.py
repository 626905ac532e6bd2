"""Where local mode keeps its files, and the settings one `stigmer local up` runs with."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from stigmer_cli import _env

DEFAULT_TEMPORAL_PORT = 7233
DEFAULT_TEMPORAL_UI_PORT = 8233
DEFAULT_SERVER_PORT = 50051
LOOPBACK = "127.0.0.1"


def default_home(environ: dict[str, str] | os._Environ[str]) -> Path:
    """The data directory: STIGMER_HOME, else ~/.stigmer."""
    explicit = environ.get(_env.STIGMER_HOME)
    return Path(explicit).expanduser() if explicit else Path.home() / ".stigmer"


@dataclass(frozen=True)
class Layout:
    """The files under one data directory."""

    home: Path

    @property
    def api_key_file(self) -> Path:
        """The CLI's key: a bootstrap platform admin key of the local server."""
        return self.home / "api-key"

    @property
    def runner_key_file(self) -> Path:
        """The runner's key: a bootstrap `runner` key, which may do only what a runner does."""
        return self.home / "runner-api-key"

    @property
    def secrets_key_file(self) -> Path:
        """The key that seals secret values in the server's database."""
        return self.home / "secrets.keys"

    @property
    def state_file(self) -> Path:
        return self.home / "local-state.json"

    @property
    def settings_file(self) -> Path:
        return self.home / "local-settings.json"

    @property
    def logs_dir(self) -> Path:
        return self.home / "logs"

    def log_file(self, component: str) -> Path:
        return self.logs_dir / f"{component}.log"

    @property
    def temporal_db(self) -> Path:
        return self.home / "temporal.db"

    @property
    def server_db(self) -> Path:
        return self.home / "stigmer.db"

    @property
    def runner_dir(self) -> Path:
        return self.home / "runner"


@dataclass(frozen=True)
class LocalSettings:
    """What one local system runs with; written next to its state so clients find it."""

    home: str
    temporal_bin: str
    temporal_port: int
    temporal_ui_port: int
    server_port: int
    server_command: tuple[str, ...]
    runner_command: tuple[str, ...]
    # Prometheus /metrics of the server and the runner (0: none, an older settings file).
    server_metrics_port: int = 0
    runner_metrics_port: int = 0
    # The server's HTTP side: Connect API and console (0: an older settings file, none).
    http_port: int = 0

    @property
    def layout(self) -> Layout:
        return Layout(Path(self.home))

    @property
    def temporal_address(self) -> str:
        return f"{LOOPBACK}:{self.temporal_port}"

    @property
    def server_address(self) -> str:
        return f"{LOOPBACK}:{self.server_port}"

    @property
    def metrics_urls(self) -> dict[str, str]:
        ports = {
            "stigmer-server": self.server_metrics_port,
            "agent-runner": self.runner_metrics_port,
        }
        return {name: f"http://{LOOPBACK}:{port}/metrics" for name, port in ports.items() if port}

    @property
    def console_url(self) -> str:
        return f"http://{LOOPBACK}:{self.http_port}" if self.http_port else ""

    @property
    def temporal_ui_url(self) -> str:
        return f"http://{LOOPBACK}:{self.temporal_ui_port}"

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def from_json(cls, text: str) -> LocalSettings:
        raw = json.loads(text)
        return cls(
            home=str(raw["home"]),
            temporal_bin=str(raw["temporal_bin"]),
            temporal_port=int(raw["temporal_port"]),
            temporal_ui_port=int(raw["temporal_ui_port"]),
            server_port=int(raw["server_port"]),
            server_command=tuple(str(part) for part in raw["server_command"]),
            runner_command=tuple(str(part) for part in raw["runner_command"]),
            server_metrics_port=int(raw.get("server_metrics_port", 0)),
            runner_metrics_port=int(raw.get("runner_metrics_port", 0)),
            http_port=int(raw.get("http_port", 0)),
        )


def write_private(path: Path, text: str) -> None:
    """Write atomically with mode 0600, so a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp, path)
