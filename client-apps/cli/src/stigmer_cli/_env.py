"""Every environment variable the CLI reads or hands to the processes it starts, in one place."""

from __future__ import annotations

from typing import Final

# Read by the CLI.
STIGMER_HOME: Final = "STIGMER_HOME"
STIGMER_SERVER_ADDRESS: Final = "STIGMER_SERVER_ADDRESS"
STIGMER_API_KEY: Final = "STIGMER_API_KEY"
STIGMER_TEMPORAL_BIN: Final = "STIGMER_TEMPORAL_BIN"
STIGMER_LOCAL_TEMPORAL_PORT: Final = "STIGMER_LOCAL_TEMPORAL_PORT"
STIGMER_LOCAL_TEMPORAL_UI_PORT: Final = "STIGMER_LOCAL_TEMPORAL_UI_PORT"
STIGMER_LOCAL_SERVER_PORT: Final = "STIGMER_LOCAL_SERVER_PORT"

# Handed to the stigmer-server (its own registry holds the authoritative list).
SERVER_API_KEYS: Final = "STIGMER_API_KEYS"
SERVER_DB_URL: Final = "STIGMER_DB_URL"

# Handed to the agent-runner.
RUNNER_BACKEND_ENDPOINT: Final = "STIGMER_BACKEND_ENDPOINT"
RUNNER_SANDBOX_TYPE: Final = "SANDBOX_TYPE"
RUNNER_SHUTDOWN_GRACE: Final = "SHUTDOWN_GRACE_SECONDS"

# Handed to both services.
DATA_DIR: Final = "STIGMER_DATA_DIR"
TEMPORAL_HOST_PORT: Final = "TEMPORAL_HOST_PORT"
TEMPORAL_NAMESPACE: Final = "TEMPORAL_NAMESPACE"
