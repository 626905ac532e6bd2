"""Configuration from the environment: defaults, and every bad value named at once."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from stigmer_server.config import ConfigError, SessionPolicy, load_config
from stigmer_server.storage import Sealer, SealingError


def test_defaults_with_only_the_keys_set() -> None:
    config = load_config({"STIGMER_API_KEYS": "k1, k2 ,", "HOME": "/home/u"})
    assert config.address == "127.0.0.1:50051"
    assert config.api_keys == ("k1", "k2")
    assert config.data_dir == Path("~/.stigmer/data").expanduser()
    assert config.db_url == f"sqlite+aiosqlite:///{config.data_dir / 'stigmer.db'}"
    assert config.temporal_host_port == "127.0.0.1:7233"
    assert config.temporal_namespace == "default"
    assert (config.execution_task_queue, config.persistence_task_queue) == (
        "execution",
        "execution-persistence",
    )
    assert config.session_policy is SessionPolicy.ENQUEUE
    assert config.turn.start_to_close == timedelta(hours=1)
    assert config.turn.heartbeat == timedelta(seconds=10)
    assert config.turn.maximum_attempts == 5
    assert (config.reconcile.interval, config.reconcile.grace) == (30.0, 60.0)
    assert config.metrics_address == ""
    assert (config.log_level, config.log_format) == ("INFO", "text")


def test_every_setting_is_read() -> None:
    config = load_config(
        {
            "STIGMER_SERVER_ADDRESS": "0.0.0.0:9000",
            "STIGMER_DATA_DIR": "/data",
            "STIGMER_DB_URL": "postgresql+asyncpg://u:p@db:5432/stigmer",
            "STIGMER_API_KEYS": "k",
            "TEMPORAL_HOST_PORT": "temporal:7233",
            "TEMPORAL_NAMESPACE": "prod",
            "TEMPORAL_AGENT_EXECUTION_TASK_QUEUE": "q1",
            "EXECUTION_PERSISTENCE_TASK_QUEUE": "q2",
            "STIGMER_SESSION_POLICY": "reject",
            "STIGMER_EXECUTE_GRAPHTON_TIMEOUT_SECONDS": "90",
            "STIGMER_EXECUTE_GRAPHTON_HEARTBEAT_SECONDS": "5",
            "STIGMER_EXECUTE_GRAPHTON_MAX_ATTEMPTS": "1",
            "STIGMER_RECONCILE_INTERVAL_SECONDS": "0",
            "STIGMER_RECONCILE_GRACE_SECONDS": "5",
            "STIGMER_METRICS_ADDRESS": "0.0.0.0:9100",
            "LOG_LEVEL": "debug",
            "LOG_FORMAT": "JSON",
        }
    )
    assert config.address == "0.0.0.0:9000"
    assert config.db_url.startswith("postgresql+asyncpg://")
    assert config.session_policy is SessionPolicy.REJECT
    assert (config.execution_task_queue, config.persistence_task_queue) == ("q1", "q2")
    assert config.turn.start_to_close == timedelta(seconds=90)
    assert config.turn.maximum_attempts == 1
    assert (config.reconcile.interval, config.reconcile.grace) == (0.0, 5.0)
    assert config.metrics_address == "0.0.0.0:9100"
    assert (config.log_level, config.log_format) == ("DEBUG", "json")


def test_all_problems_are_named_at_once() -> None:
    with pytest.raises(ConfigError) as raised:
        load_config(
            {
                "STIGMER_SERVER_ADDRESS": "nowhere",
                "STIGMER_DB_URL": "mysql://u:secret@db/x",
                "TEMPORAL_HOST_PORT": "localhost",
                "STIGMER_SESSION_POLICY": "drop",
                "STIGMER_EXECUTE_GRAPHTON_TIMEOUT_SECONDS": "-1",
                "STIGMER_EXECUTE_GRAPHTON_MAX_ATTEMPTS": "many",
                "STIGMER_RECONCILE_INTERVAL_SECONDS": "-3",
                "STIGMER_METRICS_ADDRESS": "9100",
                "LOG_LEVEL": "LOUD",
                "LOG_FORMAT": "xml",
            }
        )
    text = str(raised.value)
    for name in (
        "STIGMER_SERVER_ADDRESS",
        "STIGMER_DB_URL",
        "STIGMER_API_KEYS",
        "TEMPORAL_HOST_PORT",
        "STIGMER_SESSION_POLICY",
        "STIGMER_EXECUTE_GRAPHTON_TIMEOUT_SECONDS",
        "STIGMER_EXECUTE_GRAPHTON_MAX_ATTEMPTS",
        "STIGMER_RECONCILE_INTERVAL_SECONDS",
        "STIGMER_METRICS_ADDRESS",
        "LOG_LEVEL",
        "LOG_FORMAT",
    ):
        assert name in text
    assert len(raised.value.problems) == 11
    assert "secret" not in text, "a database password never appears in an error"


def test_repr_hides_keys_and_passwords() -> None:
    config = load_config(
        {
            "STIGMER_API_KEYS": "super-secret-key",
            "STIGMER_DB_URL": "postgresql+asyncpg://app:hunter2@db/stigmer",
        }
    )
    text = repr(config)
    assert "super-secret-key" not in text
    assert "hunter2" not in text
    assert "app:***@db/stigmer" in text


def test_the_sealing_keys_come_from_a_file_or_one_value_never_both(tmp_path: Path) -> None:
    lines = [Sealer.new_key_line("new"), Sealer.new_key_line("old")]
    key_file = tmp_path / "secrets.keys"
    key_file.write_text("\n".join(lines) + "\n")
    config = load_config({"STIGMER_API_KEYS": "k", "STIGMER_SECRETS_KEYS": ",".join(lines)})
    # The same keys, in the same order (the first seals), and never in the config's repr.
    assert Sealer.from_text(config.secrets_keys, source="env") == Sealer.from_file(key_file)
    assert lines[0].split()[1] not in repr(config)
    with pytest.raises(ConfigError, match="set one of them, not both"):
        load_config(
            {
                "STIGMER_API_KEYS": "k",
                "STIGMER_SECRETS_KEYS": lines[0],
                "STIGMER_SECRETS_KEY_FILE": str(key_file),
            }
        )
    with pytest.raises(SealingError, match=r"STIGMER_SECRETS_KEYS:1: expected"):
        Sealer.from_text("new not-a-key", source="STIGMER_SECRETS_KEYS")


def test_the_http_side_defaults_and_is_configured() -> None:
    default = load_config({"STIGMER_API_KEYS": "k"})
    assert default.http_address == "127.0.0.1:8080"
    assert default.cors_origins == ()  # CORS off
    configured = load_config(
        {
            "STIGMER_API_KEYS": "k",
            "STIGMER_HTTP_ADDRESS": "0.0.0.0:9080",
            "STIGMER_HTTP_CORS_ORIGINS": "https://a.example, http://b.example:3000/ ,",
            "STIGMER_CONSOLE_DIR": "/srv/console",
        }
    )
    assert configured.http_address == "0.0.0.0:9080"
    assert configured.cors_origins == ("https://a.example", "http://b.example:3000")
    assert configured.console_dir == Path("/srv/console")


def test_bad_http_settings_are_named() -> None:
    with pytest.raises(ConfigError) as raised:
        load_config(
            {
                "STIGMER_API_KEYS": "k",
                "STIGMER_HTTP_ADDRESS": "nowhere",
                "STIGMER_HTTP_CORS_ORIGINS": "a.example",
            }
        )
    text = str(raised.value)
    assert "STIGMER_HTTP_ADDRESS='nowhere': expected host:port" in text
    assert (
        "STIGMER_HTTP_CORS_ORIGINS: 'a.example': expected origins like https://host[:port]" in text
    )
