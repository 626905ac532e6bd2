"""Default timeouts and retry policies of the execution workflow's activities."""

from dataclasses import dataclass
from datetime import timedelta

from temporalio.common import RetryPolicy

from stigmer_contracts._names import NON_RETRYABLE_ERROR_TYPES


@dataclass(frozen=True)
class ActivityOptions:
    """Timeouts and retries for one activity; the workflow passes them to execute_activity."""

    start_to_close_timeout: timedelta
    retry_policy: RetryPolicy
    heartbeat_timeout: timedelta | None = None


def _retry(maximum_attempts: int, initial: float, maximum: float) -> RetryPolicy:
    return RetryPolicy(
        initial_interval=timedelta(seconds=initial),
        backoff_coefficient=2.0,
        maximum_interval=timedelta(seconds=maximum),
        maximum_attempts=maximum_attempts,
        non_retryable_error_types=list(NON_RETRYABLE_ERROR_TYPES),
    )


ENSURE_THREAD_OPTIONS = ActivityOptions(
    start_to_close_timeout=timedelta(seconds=30),
    retry_policy=_retry(maximum_attempts=5, initial=1, maximum=10),
)

# A turn may run long; the heartbeat timeout is what notices a dead runner quickly. The
# runner heartbeats every 2 s (HEARTBEAT_INTERVAL_SECONDS), so 10 s is five missed beats:
# a runner killed mid-turn is noticed within 10 s and the retry (first after 1 s) resumes the
# turn from its checkpoint on another runner (docs/architecture/agent-turn.md). Five attempts:
# each resumes where the last one stopped, so the attempts bound a run of bad luck (runners
# lost, a server replica failing over), not the turn's work.
EXECUTE_GRAPHTON_OPTIONS = ActivityOptions(
    start_to_close_timeout=timedelta(hours=1),
    heartbeat_timeout=timedelta(seconds=10),
    retry_policy=_retry(maximum_attempts=5, initial=1, maximum=30),
)

# Deleting a Daytona sandbox waits until it is destroyed, which takes seconds, not minutes.
CLEANUP_SANDBOX_OPTIONS = ActivityOptions(
    start_to_close_timeout=timedelta(minutes=2),
    retry_policy=_retry(maximum_attempts=5, initial=2, maximum=30),
)
