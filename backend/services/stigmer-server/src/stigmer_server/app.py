"""Assembling the server from its config, serving, and shutting down in order."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import grpc

# No typeshed stubs are installed for these two grpc add-ons.
from grpc_health.v1 import health, health_pb2, health_pb2_grpc  # type: ignore[import-untyped]
from grpc_reflection.v1alpha import reflection  # type: ignore[import-untyped]

from stigmer_server import resources as kinds
from stigmer_server._env import SECRETS_KEY_FILE, SECRETS_KEYS
from stigmer_server.api._controllers import registrations
from stigmer_server.api._crud import ResourceService
from stigmer_server.api._interceptors import ErrorInterceptor
from stigmer_server.api._rules import (
    AgentExecutionRules,
    AgentInstanceRules,
    AgentRules,
    EnvironmentRules,
    McpServerRules,
    SessionRules,
    SkillRules,
)
from stigmer_server.api._turn_context import register as register_turn_context
from stigmer_server.config import ServerConfig
from stigmer_server.execution import (
    ExecutionHub,
    ExecutionService,
    PersistenceActivities,
    PostgresBroadcaster,
    Reconciler,
    SessionTurns,
    StatusWriter,
    TemporalGateway,
    libpq_dsn,
    run_workers,
)
from stigmer_server.iam import AuthGate, KeyRegistry
from stigmer_server.iam._service import register as register_api_keys
from stigmer_server.ids import IdFactory
from stigmer_server.metrics import registry_for
from stigmer_server.storage import Sealer, Store
from stigmer_server.web import ConnectBridge, HttpServer, ServiceRecorder, SignInTickets, http_app
from stigmer_telemetry.metrics import serve_metrics
from stigmer_telemetry.tracing import tracing_enabled

logger = logging.getLogger(__name__)

_GRACE_SECONDS = 5.0
_MAX_MESSAGE_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class Components:
    """Everything the server is made of, built once from the config."""

    store: Store
    services: dict[str, ResourceService]
    executions: ExecutionService
    activities: PersistenceActivities
    gateway: TemporalGateway
    hub: ExecutionHub
    reconciler: Reconciler
    keys: KeyRegistry
    # Set on PostgreSQL, where several replicas may share the database.
    broadcaster: PostgresBroadcaster | None


def build(config: ServerConfig, store: Store) -> Components:
    ids = IdFactory()
    broadcaster = (
        PostgresBroadcaster(libpq_dsn(config.db_url)) if store.dialect == "postgresql" else None
    )
    hub = ExecutionHub(replica=secrets.token_hex(6), broadcaster=broadcaster)
    writer = StatusWriter(store, hub)
    gateway = TemporalGateway(config)
    turns = SessionTurns(store, gateway)
    rules = {
        kinds.AGENT.name: AgentRules(),
        kinds.AGENT_INSTANCE.name: AgentInstanceRules(),
        kinds.SESSION.name: SessionRules(),
        kinds.AGENT_EXECUTION.name: AgentExecutionRules(),
        kinds.SKILL.name: SkillRules(),
        kinds.ENVIRONMENT.name: EnvironmentRules(),
        kinds.MCP_SERVER.name: McpServerRules(),
    }
    services = {
        kind.name: ResourceService(store, kind, rules[kind.name], ids) for kind in kinds.ALL_KINDS
    }
    executions = ExecutionService(
        services[kinds.AGENT_EXECUTION.name],
        services[kinds.AGENT_INSTANCE.name],
        services[kinds.SESSION.name],
        hub,
        writer,
        gateway,
        turns,
        config.session_policy,
    )
    activities = PersistenceActivities(writer, turns, store)
    reconciler = Reconciler(store, writer, turns, gateway, config.reconcile)
    keys = KeyRegistry(store, ids, admin_keys=config.api_keys, runner_keys=config.runner_keys)
    return Components(
        store, services, executions, activities, gateway, hub, reconciler, keys, broadcaster
    )


def _tracing_interceptors() -> list[grpc.aio.ServerInterceptor]:
    # First, so a call refused by auth still has its span; none at all with tracing off.
    if not tracing_enabled():
        return []
    from opentelemetry.instrumentation.grpc import aio_server_interceptor

    interceptor: grpc.aio.ServerInterceptor = aio_server_interceptor()  # type: ignore[no-untyped-call]
    return [interceptor]


def grpc_server(
    config: ServerConfig, parts: Components
) -> tuple[grpc.aio.Server, Any, list[str], ConnectBridge]:
    """The gRPC server with every controller, health and reflection (not yet started), and
    the same services with the same interceptors for Connect."""
    # Shared with Connect, which runs the same chain (tracing has a Connect interceptor).
    interceptors: list[grpc.aio.ServerInterceptor] = [AuthGate(parts.keys), ErrorInterceptor()]
    grpc_only = grpc.aio.server(
        interceptors=[*_tracing_interceptors(), *interceptors],
        options=[
            ("grpc.max_receive_message_length", _MAX_MESSAGE_BYTES),
            ("grpc.max_send_message_length", _MAX_MESSAGE_BYTES),
        ],
    )
    # Every servicer added below is recorded for Connect: nothing to list twice.
    recorder = ServiceRecorder(grpc_only)
    server = cast(grpc.aio.Server, recorder)
    names = []
    for registration in registrations(parts.services, parts.executions):
        registration.add(registration.servicer, server)
        names.append(registration.service_name)
    names.extend(register_api_keys(parts.keys, server))
    names.extend(register_turn_context(parts.store, server))
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    health_name = health_pb2.DESCRIPTOR.services_by_name["Health"].full_name
    reflection.enable_server_reflection([*names, health_name, reflection.SERVICE_NAME], server)
    api = {name: recorder.services[name] for name in names}
    return grpc_only, health_servicer, names, ConnectBridge(api, interceptors)


def _sealer(config: ServerConfig) -> Sealer | None:
    if config.secrets_key_file is not None:
        return Sealer.from_file(config.secrets_key_file)
    if config.secrets_keys:
        return Sealer.from_text(config.secrets_keys, source=SECRETS_KEYS)
    return None


def _connect_interceptors() -> list[Any]:
    if not tracing_enabled():
        return []
    from connectrpc_otel import OpenTelemetryInterceptor

    return [OpenTelemetryInterceptor()]


async def serve(
    config: ServerConfig,
    stop: asyncio.Event,
    port_file: Path | None = None,
    http_port_file: Path | None = None,
) -> None:
    """Run until `stop` is set: storage, gRPC API, health, reflection and the workers."""
    if config.db_url.startswith("sqlite"):
        config.data_dir.mkdir(parents=True, exist_ok=True)
    sealer = _sealer(config)
    if sealer is None:
        logger.info(
            "no %s or %s: secret values are stored unencrypted", SECRETS_KEY_FILE, SECRETS_KEYS
        )
    store = await Store.open(config.db_url, sealer)
    try:
        async with store.transaction() as tx:
            resealed = await tx.reseal(kinds.ALL_KINDS)
        if resealed:
            logger.info("re-sealed the secrets of %d resources with the first key", resealed)
        await _serve(config, build(config, store), stop, port_file, http_port_file)
    finally:
        await store.close()
        logger.info("stopped")


async def _serve(
    config: ServerConfig,
    parts: Components,
    stop: asyncio.Event,
    port_file: Path | None,
    http_port_file: Path | None,
) -> None:
    server, health_servicer, names, bridge = grpc_server(config, parts)
    try:
        port = server.add_insecure_port(config.address)
    except RuntimeError as error:  # grpc reports a failed bind this way
        raise OSError(f"cannot listen on {config.address}: {error}") from error
    http = HttpServer(
        http_app(
            bridge=bridge,
            keys=parts.keys,
            tickets=SignInTickets(),
            console_dir=config.console_dir,
            cors_origins=config.cors_origins,
            connect_interceptors=_connect_interceptors(),
        ),
        config.http_address,
        _GRACE_SECONDS,
    )
    http_address = await http.start()
    logger.info("HTTP (Connect, console) listening on %s", http_address)
    if http_port_file is not None:
        await asyncio.to_thread(http_port_file.write_text, http_address + "\n")
    await server.start()
    for name in ["", *names]:
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    address = f"{config.address.rpartition(':')[0]}:{port}"
    logger.info("stigmer-server listening on %s (%s)", address, config)
    if port_file is not None:
        await asyncio.to_thread(port_file.write_text, address + "\n")
    stopping = asyncio.Event()
    background = [
        asyncio.create_task(run_workers(parts.gateway, config, parts.activities, stopping)),
        asyncio.create_task(parts.reconciler.run(stopping)),
    ]
    if parts.broadcaster is not None:
        background.append(asyncio.create_task(parts.broadcaster.run(parts.hub, stopping)))
    metrics = (
        serve_metrics(config.metrics_address, registry_for(parts.store))
        if config.metrics_address
        else None
    )
    try:
        await stop.wait()
    finally:
        logger.info("shutting down")
        await health_servicer.enter_graceful_shutdown()
        # Together: open streams (a console watching a turn) hold each for up to the grace.
        await asyncio.gather(http.stop(), server.stop(_GRACE_SECONDS))
        stopping.set()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*background)
        if metrics is not None:
            metrics.close()
