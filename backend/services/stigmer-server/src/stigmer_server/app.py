"""Assembling the server from its config, serving, and shutting down in order."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

import grpc

# No typeshed stubs are installed for these two grpc add-ons.
from grpc_health.v1 import health, health_pb2, health_pb2_grpc  # type: ignore[import-untyped]
from grpc_reflection.v1alpha import reflection  # type: ignore[import-untyped]

from stigmer_server import resources as kinds
from stigmer_server.api._controllers import registrations
from stigmer_server.api._crud import ResourceService
from stigmer_server.api._interceptors import AuthInterceptor, ErrorInterceptor
from stigmer_server.api._rules import (
    AgentExecutionRules,
    AgentInstanceRules,
    AgentRules,
    EnvironmentRules,
    SessionRules,
    SkillRules,
)
from stigmer_server.config import ServerConfig
from stigmer_server.execution import (
    ExecutionHub,
    ExecutionService,
    PersistenceActivities,
    StatusWriter,
    TemporalGateway,
    run_workers,
)
from stigmer_server.ids import IdFactory
from stigmer_server.storage import Store

logger = logging.getLogger(__name__)

_GRACE_SECONDS = 5.0
_MAX_MESSAGE_BYTES = 16 * 1024 * 1024


async def serve(config: ServerConfig, stop: asyncio.Event, port_file: Path | None = None) -> None:
    """Run until `stop` is set: storage, gRPC API, health, reflection and the workers."""
    if config.db_url.startswith("sqlite"):
        config.data_dir.mkdir(parents=True, exist_ok=True)
    store = await Store.open(config.db_url)
    ids = IdFactory()
    hub = ExecutionHub()
    writer = StatusWriter(store, hub)
    gateway = TemporalGateway(config)
    rules = {
        kinds.AGENT.name: AgentRules(),
        kinds.AGENT_INSTANCE.name: AgentInstanceRules(),
        kinds.SESSION.name: SessionRules(),
        kinds.AGENT_EXECUTION.name: AgentExecutionRules(),
        kinds.SKILL.name: SkillRules(),
        kinds.ENVIRONMENT.name: EnvironmentRules(),
    }
    services = {
        kind.name: ResourceService(store, kind, rules[kind.name], ids) for kind in kinds.ALL_KINDS
    }
    executions = ExecutionService(
        services["AgentExecution"],
        services["AgentInstance"],
        services["Session"],
        hub,
        writer,
        gateway,
        config.session_policy,
    )
    server = grpc.aio.server(
        interceptors=[AuthInterceptor(config.api_keys), ErrorInterceptor()],
        options=[
            ("grpc.max_receive_message_length", _MAX_MESSAGE_BYTES),
            ("grpc.max_send_message_length", _MAX_MESSAGE_BYTES),
        ],
    )
    names = []
    for registration in registrations(services, executions):
        registration.add(registration.servicer, server)
        names.append(registration.service_name)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        [
            *names,
            health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
            reflection.SERVICE_NAME,
        ],
        server,
    )
    host = config.address.rpartition(":")[0]
    port = server.add_insecure_port(config.address)
    if port == 0:
        raise OSError(f"cannot listen on {config.address}")
    await server.start()
    for name in ["", *names]:
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    address = f"{host}:{port}"
    logger.info("stigmer-server listening on %s (%s)", address, config)
    if port_file is not None:
        await asyncio.to_thread(port_file.write_text, address + "\n")
    stopping = asyncio.Event()
    workers = asyncio.create_task(
        run_workers(gateway, config, PersistenceActivities(store, hub, writer), stopping)
    )
    try:
        await stop.wait()
    finally:
        logger.info("shutting down")
        await health_servicer.enter_graceful_shutdown()
        await server.stop(_GRACE_SECONDS)
        stopping.set()
        with contextlib.suppress(asyncio.CancelledError):
            await workers
        await store.close()
        logger.info("stopped")
