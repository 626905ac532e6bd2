from __future__ import annotations

from pathlib import Path

import pytest

from agent_runner.config import DEFAULT_MODEL, ConfigError, load_config

REQUIRED = {
    "STIGMER_BACKEND_ENDPOINT": "127.0.0.1:50051",
    "STIGMER_API_KEY": "key-123",
    "TEMPORAL_HOST_PORT": "127.0.0.1:7233",
    "STIGMER_DATA_DIR": "/tmp/stigmer-runner-config-test",
}


def test_every_missing_variable_is_named_at_once() -> None:
    with pytest.raises(ConfigError) as caught:
        load_config({})
    message = str(caught.value)
    for name in REQUIRED:
        assert f"{name} is required" in message


def test_invalid_values_are_named_with_what_was_expected() -> None:
    env = {
        **REQUIRED,
        "SANDBOX_TYPE": "docker",
        "MAX_CONCURRENT_TURNS": "zero",
        "STATUS_FLUSH_MAX_EVENTS": "0",
        "LOG_FORMAT": "xml",
    }
    with pytest.raises(ConfigError) as caught:
        load_config(env)
    message = str(caught.value)
    assert "SANDBOX_TYPE must be one of local, daytona (got 'docker')" in message
    assert "MAX_CONCURRENT_TURNS must be an integer (got 'zero')" in message
    assert "STATUS_FLUSH_MAX_EVENTS must be at least 1" in message
    assert "LOG_FORMAT must be one of text, json" in message


def test_defaults() -> None:
    config = load_config(REQUIRED)
    assert config.task_queue == "execution"
    assert config.temporal_namespace == "default"
    assert config.sandbox_type == "local"
    assert config.default_model == DEFAULT_MODEL == "scripted:demo"
    assert config.flush.max_events == 100
    assert config.flush.max_delay == 1.0
    assert config.max_concurrent_turns == 32
    assert config.sandbox.root == Path(REQUIRED["STIGMER_DATA_DIR"]) / "sandboxes"
    assert config.sandbox.network is False
    assert config.checkpoint_target.endswith("checkpoints.sqlite")
    # No scripts directory: `scripted:<path>` reads no file, only shipped scripts play.
    assert config.providers.scripts_dir is None


def test_the_scripts_directory_must_exist(tmp_path: Path) -> None:
    config = load_config({**REQUIRED, "STIGMER_SCRIPTS_DIR": str(tmp_path / "a" / "..")})
    assert config.providers.scripts_dir == tmp_path
    with pytest.raises(ConfigError, match="STIGMER_SCRIPTS_DIR must be an existing directory"):
        load_config({**REQUIRED, "STIGMER_SCRIPTS_DIR": str(tmp_path / "missing")})


def test_overrides_and_a_database_password_stays_out_of_the_log_target() -> None:
    config = load_config(
        {
            **REQUIRED,
            "TEMPORAL_AGENT_EXECUTION_TASK_QUEUE": "turns",
            "STATUS_FLUSH_MAX_DELAY_MS": "100",
            # The server's SQLAlchemy URL works as is.
            "STIGMER_CHECKPOINT_DB_URL": "postgresql+asyncpg://runner:hunter22@db:5432/stigmer",
        }
    )
    assert config.task_queue == "turns"
    assert config.flush.max_delay == 0.1
    assert config.checkpoint_db_url == "postgresql://runner:hunter22@db:5432/stigmer"
    assert config.checkpoint_target == "postgresql://db:5432/stigmer"


def test_a_checkpoint_database_other_than_postgresql_is_refused() -> None:
    with pytest.raises(ConfigError, match="STIGMER_CHECKPOINT_DB_URL must be a postgresql://"):
        load_config({**REQUIRED, "STIGMER_CHECKPOINT_DB_URL": "mysql://db/x"})


def test_daytona_needs_its_key_and_a_url_and_never_shows_the_key() -> None:
    with pytest.raises(ConfigError) as caught:
        load_config({**REQUIRED, "SANDBOX_TYPE": "daytona", "DAYTONA_API_URL": "daytona.test"})
    message = str(caught.value)
    assert "DAYTONA_API_KEY is required" in message
    assert "DAYTONA_API_URL must be an http(s):// URL (got 'daytona.test')" in message
    config = load_config(
        {
            **REQUIRED,
            "SANDBOX_TYPE": "daytona",
            "DAYTONA_API_KEY": "dtn-very-secret",
            "DAYTONA_TARGET": "eu",
            "DAYTONA_AUTO_STOP_MINUTES": "5",
            "SANDBOX_IDLE_TTL_MINUTES": "90",
        }
    )
    assert config.daytona is not None
    assert config.daytona.api_url == "https://app.daytona.io/api"
    assert config.daytona.target == "eu"
    assert config.daytona.auto_stop_minutes == 5
    assert config.daytona.auto_delete_minutes == 1440
    assert config.reaper.idle_ttl == 90 * 60
    assert "dtn-very-secret" not in repr(config)


def test_local_runners_ignore_daytona_settings() -> None:
    config = load_config({**REQUIRED, "DAYTONA_API_URL": "not a url"})
    assert config.daytona is None
    assert config.sandbox_owner == "stigmer"


def test_the_command_timeout_is_a_default_under_a_maximum() -> None:
    config = load_config(REQUIRED)
    assert (config.sandbox.command_timeout, config.sandbox.max_command_timeout) == (300, 1800)
    raised = load_config({**REQUIRED, "SANDBOX_COMMAND_TIMEOUT_SECONDS": "2400"})
    assert raised.sandbox.max_command_timeout == 2400  # an unset maximum never undercuts it
    both = load_config(
        {
            **REQUIRED,
            "SANDBOX_TYPE": "daytona",
            "DAYTONA_API_KEY": "dtn-key",
            "SANDBOX_COMMAND_TIMEOUT_SECONDS": "60",
            "SANDBOX_MAX_COMMAND_TIMEOUT_SECONDS": "600",
        }
    )
    assert (both.sandbox.command_timeout, both.sandbox.max_command_timeout) == (60, 600)
    assert both.daytona is not None
    assert (both.daytona.command_timeout, both.daytona.max_command_timeout) == (60, 600)


def test_a_maximum_below_the_default_is_refused_naming_both() -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(
            {
                **REQUIRED,
                "SANDBOX_COMMAND_TIMEOUT_SECONDS": "600",
                "SANDBOX_MAX_COMMAND_TIMEOUT_SECONDS": "60",
            }
        )
    assert (
        "SANDBOX_MAX_COMMAND_TIMEOUT_SECONDS must be at least SANDBOX_COMMAND_TIMEOUT_SECONDS "
        "(600) (got 60)"
    ) in str(caught.value)
