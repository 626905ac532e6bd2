"""Names on the Temporal wire: task queues, their env vars, the workflow and the activities.

Both services read these instead of spelling the strings, so the two sides cannot drift.
"""

from typing import Final

AGENT_EXECUTION_TASK_QUEUE_ENV: Final = "TEMPORAL_AGENT_EXECUTION_TASK_QUEUE"
AGENT_EXECUTION_TASK_QUEUE_DEFAULT: Final = "execution"

EXECUTION_PERSISTENCE_TASK_QUEUE_ENV: Final = "EXECUTION_PERSISTENCE_TASK_QUEUE"
EXECUTION_PERSISTENCE_TASK_QUEUE_DEFAULT: Final = "execution-persistence"

INVOKE_AGENT_EXECUTION_WORKFLOW: Final = "InvokeAgentExecutionWorkflow"

# The runner's activities (the server's own live in stigmer_server.workflows).
ENSURE_THREAD: Final = "EnsureThread"
EXECUTE_GRAPHTON: Final = "ExecuteGraphton"
CLEANUP_SANDBOX: Final = "CleanupSandbox"

# ApplicationError types that no retry can fix. The runner raises them with
# non_retryable=True as well; listing them in the retry policy guards older runners.
ERROR_INVALID_INPUT: Final = "InvalidInput"
ERROR_NOT_FOUND: Final = "NotFound"
ERROR_MODEL_REQUEST_REJECTED: Final = "ModelRequestRejected"
NON_RETRYABLE_ERROR_TYPES: Final = (
    ERROR_INVALID_INPUT,
    ERROR_NOT_FOUND,
    ERROR_MODEL_REQUEST_REJECTED,
)
