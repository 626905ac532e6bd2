"""API keys through the ApiKey API, against a real server: created with a role and an org,
shown once, stored as a salted hash, listed without secrets, revoked for good; and the
session fields only the runner may set."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Any

import grpc
import pytest

from ai.stigmer.agentic.session.v1 import command_pb2_grpc as session_cmd
from ai.stigmer.agentic.session.v1 import query_pb2_grpc as session_query
from ai.stigmer.agentic.session.v1.io_pb2 import SessionId
from ai.stigmer.commons.apiresource.io_pb2 import ListRequest
from ai.stigmer.iam.apikey.v1 import command_pb2_grpc as key_cmd
from ai.stigmer.iam.apikey.v1 import query_pb2_grpc as key_query
from ai.stigmer.iam.apikey.v1.api_pb2 import ApiKey
from ai.stigmer.iam.apikey.v1.io_pb2 import ApiKeyId, CreatedApiKey
from stigmer_server.iam import Role
from stigmer_testing._server import StigmerServer

if TYPE_CHECKING:
    from conftest import Api, Builders

pytestmark = pytest.mark.integration


def _bearer(token: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {token}"),)


def _key(name: str, role: Role, org: str = "") -> ApiKey:
    key = ApiKey(api_version="iam.stigmer.ai/v1", kind="ApiKey")
    key.metadata.name = name
    key.metadata.org = org
    key.spec.role = role.proto
    return key


async def _create(
    channel: grpc.aio.Channel, token: str, name: str, role: Role, org: str = ""
) -> CreatedApiKey:
    stub = key_cmd.ApiKeyCommandControllerStub(channel)
    created: CreatedApiKey = await stub.create(
        _key(name, role, org), metadata=_bearer(token), timeout=10
    )
    return created


async def _status(call: Any) -> grpc.StatusCode:
    try:
        await call
    except grpc.aio.AioRpcError as error:
        return error.code()
    return grpc.StatusCode.OK


def _key_rows(server: StigmerServer) -> list[tuple[Any, ...]]:
    path = Path(server.db_url.split("///", 1)[1])
    with sqlite3.connect(path) as connection:
        return list(connection.execute("SELECT id, org, role, salt, secret_hash FROM api_keys"))


async def test_a_key_is_shown_once_stored_hashed_and_revocable(server: StigmerServer) -> None:
    async with grpc.aio.insecure_channel(server.address) as channel:
        created = await _create(channel, server.api_key, "ci", Role.MEMBER, org="acme")
        key_id = created.api_key.metadata.id
        assert created.key.startswith(f"stk_{key_id}_")
        secret = created.key.rsplit("_", 1)[1]
        assert created.api_key.metadata.org == "acme"
        assert created.api_key.spec.role == Role.MEMBER.proto

        # The new key authenticates, and its use is recorded.
        queries = key_query.ApiKeyQueryControllerStub(channel)
        sessions = _session_stub(channel)
        missing = SessionId(value="ses-01jaaaaaaaaaaaaaaaaaaaaaaa")
        code = await _status(sessions.get(missing, metadata=_bearer(created.key), timeout=10))
        assert code == grpc.StatusCode.NOT_FOUND

        # Recorded before the call is served (then at most once a minute per key).
        got = await queries.get(ApiKeyId(value=key_id), metadata=server.metadata, timeout=10)
        assert got.status.HasField("last_used_at")

        # Reads never carry the token; the database holds a salted hash, not the secret.
        listed = await queries.list(ListRequest(), metadata=server.metadata, timeout=10)
        assert key_id in [item.metadata.id for item in listed.items]
        assert secret not in str(listed)
        assert created.key not in str(listed)
        rows = {row[0]: row for row in _key_rows(server)}
        assert len(rows[key_id][3]) == 16
        assert len(rows[key_id][4]) == 32
        database = Path(server.db_url.split("///", 1)[1])
        assert secret.encode() not in b"".join(
            p.read_bytes() for p in database.parent.glob(database.name + "*")
        )

        # A wrong secret for a real id is refused like any wrong key.
        forged = f"stk_{key_id}_{'A' * len(secret)}"
        code = await _status(sessions.get(missing, metadata=_bearer(forged), timeout=10))
        assert code == grpc.StatusCode.UNAUTHENTICATED

        revoked = await key_cmd.ApiKeyCommandControllerStub(channel).revoke(
            ApiKeyId(value=key_id), metadata=server.metadata, timeout=10
        )
        assert revoked.status.revoked
        code = await _status(sessions.get(missing, metadata=_bearer(created.key), timeout=10))
        assert code == grpc.StatusCode.UNAUTHENTICATED


async def test_an_org_admin_manages_only_its_own_orgs_keys(server: StigmerServer) -> None:
    async with grpc.aio.insecure_channel(server.address) as channel:
        admin = await _create(channel, server.api_key, "acme-admin", Role.ADMIN, org="acme")
        other = await _create(channel, server.api_key, "globex-ci", Role.MEMBER, org="globex")
        # Creating in its own org works; in another org it is refused, naming the field.
        own = await _create(channel, admin.key, "acme-ci", Role.VIEWER, org="acme")
        assert own.api_key.metadata.org == "acme"
        unnamed = await _create(channel, admin.key, "acme-bot", Role.MEMBER)
        assert unnamed.api_key.metadata.org == "acme", "an org admin's keys default to its org"
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await _create(channel, admin.key, "sneaky", Role.ADMIN, org="globex")
        assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
        assert "metadata.org" in (refused.value.details() or "")

        queries = key_query.ApiKeyQueryControllerStub(channel)
        listed = await queries.list(ListRequest(), metadata=_bearer(admin.key), timeout=10)
        assert {item.metadata.org for item in listed.items} == {"acme"}
        # Another org's key is absent, not forbidden: its existence is not revealed.
        other_id = ApiKeyId(value=other.api_key.metadata.id)
        code = await _status(queries.get(other_id, metadata=_bearer(admin.key), timeout=10))
        assert code == grpc.StatusCode.NOT_FOUND
        revoke = key_cmd.ApiKeyCommandControllerStub(channel).revoke
        code = await _status(revoke(other_id, metadata=_bearer(admin.key), timeout=10))
        assert code == grpc.StatusCode.NOT_FOUND

        # A member manages no keys at all.
        code = await _status(queries.list(ListRequest(), metadata=_bearer(other.key), timeout=10))
        assert code == grpc.StatusCode.PERMISSION_DENIED


def _session_stub(channel: grpc.aio.Channel) -> Any:
    return session_query.SessionQueryControllerStub(channel)


async def test_only_the_runner_sets_a_sessions_sandbox_and_thread(
    server: StigmerServer, api: Api, make: Builders
) -> None:
    async with grpc.aio.insecure_channel(server.address) as channel:
        member = (await _create(channel, server.api_key, "dev", Role.MEMBER)).key
        runner = (await _create(channel, server.api_key, "runner", Role.RUNNER)).key
        commands = session_cmd.SessionCommandControllerStub(channel)
        agent = await api.call(api.agents.create, make.agent())
        instance = await api.call(api.instances.create, make.instance(agent.metadata.id))

        pinned = make.session(instance.metadata.id)
        pinned.spec.sandbox_id = "local-someone-elses"
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await commands.create(pinned, metadata=_bearer(member), timeout=10)
        assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
        assert "spec.sandbox_id" in (refused.value.details() or "")

        session = await commands.create(
            make.session(instance.metadata.id), metadata=_bearer(member), timeout=10
        )
        session.spec.thread_id = "someone-elses-thread"
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await commands.update(session, metadata=_bearer(member), timeout=10)
        assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
        assert "spec.thread_id" in (refused.value.details() or "")

        # The runner fills both; it may change nothing else of the session.
        session.spec.sandbox_id = "local-1"
        updated = await commands.update(session, metadata=_bearer(runner), timeout=10)
        assert (updated.spec.sandbox_id, updated.spec.thread_id) == (
            "local-1",
            "someone-elses-thread",
        )
        updated.spec.subject = "renamed by the runner"
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await commands.update(updated, metadata=_bearer(runner), timeout=10)
        assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
        assert "spec.subject" in (refused.value.details() or "")

        # A member's update that leaves them as they are is a normal update.
        updated.spec.subject = "renamed by its owner"
        renamed = await commands.update(updated, metadata=_bearer(member), timeout=10)
        assert renamed.spec.sandbox_id == "local-1"
