"""The `agent-runner` entrypoint: .env, config, logging, then the worker until a signal."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import os
import platform
import shutil
import sys
from collections.abc import Sequence
from importlib.metadata import version
from pathlib import Path

from dotenv import load_dotenv

from agent_runner.config import ConfigError, load_config
from agent_runner.worker import StartupError, serve
from stigmer_telemetry.logs import configure_logging
from stigmer_telemetry.tracing import configure_tracing, shutdown_tracing

SERVICE_DIR = Path(__file__).resolve().parents[2]
_CHECKED = ("temporalio", "grpcio", "deepagents", "langgraph", "langchain-core", "daytona")


def load_env_files(directories: Sequence[Path] | None = None) -> None:
    """The working directory's .env first, then the service's; neither overrides real env vars.

    Because nothing overrides, the first file that sets a variable wins.
    """
    # Installed as a package (an image), SERVICE_DIR is not a service directory: skip it.
    service = (SERVICE_DIR,) if (SERVICE_DIR / "main.py").is_file() else ()
    for directory in directories or (Path.cwd(), *service):
        candidate = directory / ".env"
        if candidate.is_file():
            load_dotenv(candidate, override=False)


def check() -> str:
    """Import everything a turn needs, the agent stack included, and name the versions.

    For image builds and supervisors: proves the install is whole without any configuration.
    """
    importlib.import_module("agent_runner.turn")
    importlib.import_module("agent_runner.sandbox.daytona_provider")
    parts = [f"agent-runner {version('agent-runner')}", f"python {platform.python_version()}"]
    parts += [f"{dist} {version(dist)}" for dist in _CHECKED]
    parts.append(f"bubblewrap {shutil.which('bwrap') or 'not installed'}")
    return ", ".join(parts)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="agent-runner",
        description="The Stigmer agent-runner: a Temporal activity worker (configured by env).",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="import the whole agent stack, print the versions and exit (needs no config)",
    )
    if parser.parse_args(argv).check:
        print(check())
        return
    load_env_files()
    try:
        config = load_config(os.environ)
    except ConfigError as exc:
        print(f"agent-runner: {exc}", file=sys.stderr)
        raise SystemExit(2) from exc
    configure_logging(config.log_level, config.log_format)
    tracing = configure_tracing("agent-runner")
    logging.getLogger(__name__).info(
        "agent-runner starting (pid %d, tracing %s)", os.getpid(), "on" if tracing else "off"
    )
    try:
        asyncio.run(serve(config))
    except StartupError as exc:
        raise SystemExit(1) from exc
    finally:
        shutdown_tracing()


if __name__ == "__main__":
    main()
