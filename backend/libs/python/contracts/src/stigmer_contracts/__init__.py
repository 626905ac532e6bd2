"""The Temporal contract between the stigmer-server workflow and the agent-runner activities."""

from stigmer_contracts._activities import (
    ensure_thread_defn,
    execute_ensure_thread,
    execute_graphton,
    execute_graphton_defn,
    execute_update_execution_status,
    update_execution_status_defn,
)
from stigmer_contracts._converter import ProtoFirstPayloadConverter, data_converter
from stigmer_contracts._names import (
    AGENT_EXECUTION_TASK_QUEUE_DEFAULT,
    AGENT_EXECUTION_TASK_QUEUE_ENV,
    ENSURE_THREAD,
    ERROR_INVALID_INPUT,
    ERROR_MODEL_REQUEST_REJECTED,
    ERROR_NOT_FOUND,
    EXECUTE_GRAPHTON,
    EXECUTION_PERSISTENCE_TASK_QUEUE_DEFAULT,
    EXECUTION_PERSISTENCE_TASK_QUEUE_ENV,
    INVOKE_AGENT_EXECUTION_WORKFLOW,
    NON_RETRYABLE_ERROR_TYPES,
    UPDATE_EXECUTION_STATUS,
)
from stigmer_contracts._policies import (
    ENSURE_THREAD_OPTIONS,
    EXECUTE_GRAPHTON_OPTIONS,
    UPDATE_EXECUTION_STATUS_OPTIONS,
    ActivityOptions,
)

__all__ = [
    "AGENT_EXECUTION_TASK_QUEUE_DEFAULT",
    "AGENT_EXECUTION_TASK_QUEUE_ENV",
    "ENSURE_THREAD",
    "ENSURE_THREAD_OPTIONS",
    "ERROR_INVALID_INPUT",
    "ERROR_MODEL_REQUEST_REJECTED",
    "ERROR_NOT_FOUND",
    "EXECUTE_GRAPHTON",
    "EXECUTE_GRAPHTON_OPTIONS",
    "EXECUTION_PERSISTENCE_TASK_QUEUE_DEFAULT",
    "EXECUTION_PERSISTENCE_TASK_QUEUE_ENV",
    "INVOKE_AGENT_EXECUTION_WORKFLOW",
    "NON_RETRYABLE_ERROR_TYPES",
    "UPDATE_EXECUTION_STATUS",
    "UPDATE_EXECUTION_STATUS_OPTIONS",
    "ActivityOptions",
    "ProtoFirstPayloadConverter",
    "data_converter",
    "ensure_thread_defn",
    "execute_ensure_thread",
    "execute_graphton",
    "execute_graphton_defn",
    "execute_update_execution_status",
    "update_execution_status_defn",
]
