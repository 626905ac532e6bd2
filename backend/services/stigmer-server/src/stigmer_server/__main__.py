"""`stigmer-server` and `python -m stigmer_server`: load .env, validate config, serve."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from pathlib import Path

from dotenv import find_dotenv, load_dotenv

from stigmer_server.app import serve
from stigmer_server.config import ConfigError, ServerConfig, load_config
from stigmer_server.storage import SealingError
from stigmer_telemetry.logs import configure_logging
from stigmer_telemetry.tracing import configure_tracing, shutdown_tracing

logger = logging.getLogger(__name__)

# Where to write the bound host:port once serving; for supervisors that start the
# server on port 0 (tests, `stigmer local up`).
PORT_FILE_ENV = "STIGMER_SERVER_PORT_FILE"
# The same for the HTTP address (STIGMER_HTTP_ADDRESS may be port 0 too).
HTTP_PORT_FILE_ENV = "STIGMER_HTTP_PORT_FILE"


def main() -> None:
    # A .env in the working directory, if any; variables already set win over it.
    load_dotenv(find_dotenv(usecwd=True))
    try:
        config = load_config(os.environ)
    except ConfigError as error:
        print(f"stigmer-server: {error}", file=sys.stderr)
        sys.exit(2)
    configure_logging(config.log_level, config.log_format)
    if configure_tracing("stigmer-server"):
        logger.info("tracing on: spans go to the OTLP endpoint of the OTEL_* settings")
    port_file = os.environ.get(PORT_FILE_ENV)
    http_port_file = os.environ.get(HTTP_PORT_FILE_ENV)
    try:
        asyncio.run(
            _run(
                config,
                Path(port_file) if port_file else None,
                Path(http_port_file) if http_port_file else None,
            )
        )
    except (OSError, SealingError) as error:
        logger.error("cannot start: %s", error)
        sys.exit(1)
    finally:
        shutdown_tracing()


async def _run(config: ServerConfig, port_file: Path | None, http_port_file: Path | None) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await serve(config, stop, port_file, http_port_file)


if __name__ == "__main__":
    main()
