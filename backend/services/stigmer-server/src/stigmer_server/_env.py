"""Every environment variable the server reads, with its default: the one registry."""

from __future__ import annotations

from typing import Final

from stigmer_contracts import (
    AGENT_EXECUTION_TASK_QUEUE_DEFAULT,
    AGENT_EXECUTION_TASK_QUEUE_ENV,
    EXECUTION_PERSISTENCE_TASK_QUEUE_DEFAULT,
    EXECUTION_PERSISTENCE_TASK_QUEUE_ENV,
)

SERVER_ADDRESS: Final = "STIGMER_SERVER_ADDRESS"
SERVER_ADDRESS_DEFAULT: Final = "127.0.0.1:50051"

HTTP_ADDRESS: Final = "STIGMER_HTTP_ADDRESS"
HTTP_ADDRESS_DEFAULT: Final = "127.0.0.1:8080"
"""host:port of the HTTP side: every service over Connect, and the console at `/`."""

HTTP_CORS_ORIGINS: Final = "STIGMER_HTTP_CORS_ORIGINS"
"""Comma-separated origins allowed to call the HTTP API from a browser; empty: CORS off."""

CONSOLE_DIR: Final = "STIGMER_CONSOLE_DIR"
"""The built console (its index.html); default: client-apps/console/dist of this checkout."""

DATA_DIR: Final = "STIGMER_DATA_DIR"
DATA_DIR_DEFAULT: Final = "~/.stigmer/data"

DB_URL: Final = "STIGMER_DB_URL"
"""Default: sqlite+aiosqlite:///<STIGMER_DATA_DIR>/stigmer.db"""

API_KEYS: Final = "STIGMER_API_KEYS"
"""Required: comma-separated bootstrap platform admin keys; clients send one as
`authorization: Bearer <key>`. Keys made through the ApiKey API live in the database."""

SECRETS_KEY_FILE: Final = "STIGMER_SECRETS_KEY_FILE"
"""Optional: the key file that seals secret values at rest (lines `<key id> <base64 key>`;
the first seals, all open). Unset: secret values are stored as given."""

SECRETS_KEYS: Final = "STIGMER_SECRETS_KEYS"
"""Optional, instead of the file: its lines in one value (commas may separate them), for a
deployment whose secret store hands values over as environment variables."""

RUNNER_KEYS: Final = "STIGMER_RUNNER_KEYS"
"""Optional: comma-separated bootstrap keys of role `runner` (platform scope)."""

TEMPORAL_HOST_PORT: Final = "TEMPORAL_HOST_PORT"
TEMPORAL_HOST_PORT_DEFAULT: Final = "127.0.0.1:7233"

TEMPORAL_NAMESPACE: Final = "TEMPORAL_NAMESPACE"
TEMPORAL_NAMESPACE_DEFAULT: Final = "default"

EXECUTION_TASK_QUEUE: Final = AGENT_EXECUTION_TASK_QUEUE_ENV
EXECUTION_TASK_QUEUE_DEFAULT: Final = AGENT_EXECUTION_TASK_QUEUE_DEFAULT

PERSISTENCE_TASK_QUEUE: Final = EXECUTION_PERSISTENCE_TASK_QUEUE_ENV
PERSISTENCE_TASK_QUEUE_DEFAULT: Final = EXECUTION_PERSISTENCE_TASK_QUEUE_DEFAULT

SESSION_POLICY: Final = "STIGMER_SESSION_POLICY"
SESSION_POLICY_DEFAULT: Final = "enqueue"

EXECUTE_GRAPHTON_TIMEOUT: Final = "STIGMER_EXECUTE_GRAPHTON_TIMEOUT_SECONDS"
"""Start-to-close timeout of one turn; default: the contract's (3600 s)."""

EXECUTE_GRAPHTON_HEARTBEAT: Final = "STIGMER_EXECUTE_GRAPHTON_HEARTBEAT_SECONDS"
"""Heartbeat timeout of one turn; default: the contract's (10 s)."""

EXECUTE_GRAPHTON_ATTEMPTS: Final = "STIGMER_EXECUTE_GRAPHTON_MAX_ATTEMPTS"
"""Attempts of one turn (1 = no retry); default: the contract's (5)."""

RECONCILE_INTERVAL: Final = "STIGMER_RECONCILE_INTERVAL_SECONDS"
"""How often the reconciler looks for turns stuck between phases; 0 turns it off."""
RECONCILE_INTERVAL_DEFAULT: Final = 30.0

RECONCILE_GRACE: Final = "STIGMER_RECONCILE_GRACE_SECONDS"
"""How long a turn may hold its session with no change before the reconciler checks it."""
RECONCILE_GRACE_DEFAULT: Final = 60.0

METRICS_ADDRESS: Final = "STIGMER_METRICS_ADDRESS"
"""host:port of the Prometheus /metrics endpoint; empty (the default) turns it off."""

LOG_LEVEL: Final = "LOG_LEVEL"
LOG_LEVEL_DEFAULT: Final = "INFO"

LOG_FORMAT: Final = "LOG_FORMAT"
LOG_FORMAT_DEFAULT: Final = "text"
