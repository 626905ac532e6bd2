"""The `agent-runner` entrypoint: .env, config, logging, then the worker until a signal."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from dotenv import load_dotenv

from agent_runner.config import ConfigError, load_config
from agent_runner.logs import configure_logging
from agent_runner.worker import StartupError, serve

SERVICE_DIR = Path(__file__).resolve().parents[2]


def load_env_files(directories: Sequence[Path] | None = None) -> None:
    """The working directory's .env first, then the service's; neither overrides real env vars.

    Because nothing overrides, the first file that sets a variable wins.
    """
    for directory in directories or (Path.cwd(), SERVICE_DIR):
        candidate = directory / ".env"
        if candidate.is_file():
            load_dotenv(candidate, override=False)


def main() -> None:
    load_env_files()
    try:
        config = load_config(os.environ)
    except ConfigError as exc:
        print(f"agent-runner: {exc}", file=sys.stderr)
        raise SystemExit(2) from exc
    configure_logging(config.log_level, config.log_format)
    logging.getLogger(__name__).info("agent-runner starting (pid %d)", os.getpid())
    try:
        asyncio.run(serve(config))
    except StartupError as exc:
        raise SystemExit(1) from exc


if __name__ == "__main__":
    main()
