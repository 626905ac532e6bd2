"""Real readiness probes: Temporal answers, the server's health is SERVING, the runner polls."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc  # type: ignore[import-untyped]
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client
from temporalio.service import RPCError

from stigmer_contracts import AGENT_EXECUTION_TASK_QUEUE_DEFAULT

_PROBE_TIMEOUT = 2.0


async def _temporal_client(address: str, namespace: str) -> Client:
    return await asyncio.wait_for(
        Client.connect(address, namespace=namespace), timeout=_PROBE_TIMEOUT
    )


async def temporal_problem(address: str, namespace: str) -> str | None:
    """None when Temporal's frontend answers a health check, else why not."""
    try:
        client = await _temporal_client(address, namespace)
        healthy = await client.service_client.check_health(
            timeout=timedelta(seconds=_PROBE_TIMEOUT)
        )
    except (TimeoutError, RuntimeError, OSError, RPCError) as error:
        return f"not answering at {address} ({type(error).__name__})"
    return None if healthy else f"answering at {address} but not serving yet"


async def server_problem(address: str, api_key: str) -> str | None:
    """None when the stigmer-server's standard health service says SERVING."""
    async with grpc.aio.insecure_channel(address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        try:
            reply = await stub.Check(
                health_pb2.HealthCheckRequest(service=""),
                timeout=_PROBE_TIMEOUT,
                metadata=(("authorization", f"Bearer {api_key}"),),
            )
        except grpc.aio.AioRpcError as error:
            return f"health check at {address}: {error.code().name}"
    if reply.status != health_pb2.HealthCheckResponse.SERVING:
        status_name = health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
        return f"health at {address} is {status_name}"
    return None


async def runner_problem(
    temporal_address: str,
    namespace: str,
    task_queue: str = AGENT_EXECUTION_TASK_QUEUE_DEFAULT,
) -> str | None:
    """None when at least one worker polls the execution task queue for activities."""
    try:
        client = await _temporal_client(temporal_address, namespace)
        reply = await client.workflow_service.describe_task_queue(
            DescribeTaskQueueRequest(
                namespace=namespace,
                task_queue=TaskQueue(name=task_queue),
                task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
            ),
            timeout=timedelta(seconds=_PROBE_TIMEOUT),
        )
    except (TimeoutError, RuntimeError, OSError, RPCError) as error:
        return f"cannot ask Temporal about task queue {task_queue!r} ({type(error).__name__})"
    if not reply.pollers:
        return f"no worker polls task queue {task_queue!r} yet"
    return None
