"""Secret values at rest: sealed with AES-GCM under the key file's first key, opened with any
of its keys; a restart with a new first key re-seals everything, after which the old key
may go. The database files never hold a secret value in clear."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import grpc
import pytest

from ai.stigmer.agentic.environment.v1 import command_pb2_grpc as env_cmd
from ai.stigmer.agentic.environment.v1 import query_pb2_grpc as env_query
from ai.stigmer.agentic.environment.v1.api_pb2 import Environment
from ai.stigmer.agentic.environment.v1.io_pb2 import EnvironmentId
from ai.stigmer.commons.apiresource.environment_pb2 import EnvironmentValue
from ai.stigmer.commons.apiresource.metadata_pb2 import ApiResourceMetadata
from stigmer_server.storage import Sealer, SealingError
from stigmer_testing._server import StigmerServer, start_stigmer_server

CANARY = "canary-5d21be-sealed-at-rest"


def _environment(secret: str) -> Environment:
    environment = Environment(
        api_version="agentic.stigmer.ai/v1",
        kind="Environment",
        metadata=ApiResourceMetadata(name="sealed"),
    )
    environment.spec.data["TOKEN"].CopyFrom(EnvironmentValue(value=secret, is_secret=True))
    environment.spec.data["PLAIN"].CopyFrom(EnvironmentValue(value="plain"))
    return environment


def _sealer(tmp_path: Path, *key_ids: str) -> tuple[Sealer, Path]:
    path = tmp_path / "keys"
    path.write_text("\n".join(Sealer.new_key_line(key_id) for key_id in key_ids) + "\n")
    return Sealer.from_file(path), path


def test_a_sealed_value_opens_only_in_its_resource_and_with_its_key(tmp_path: Path) -> None:
    sealer, _ = _sealer(tmp_path, "a")
    environment = _environment(CANARY)
    sealer.seal(environment, "env-1")
    sealed = environment.spec.data["TOKEN"].value
    assert sealed.startswith("sealed:v1:a:")
    assert CANARY not in sealed
    assert environment.spec.data["PLAIN"].value == "plain"
    moved = Environment()
    moved.CopyFrom(environment)
    with pytest.raises(SealingError):
        sealer.open(moved, "env-2")  # the id is the associated data
    other, _ = _sealer(tmp_path / "..", "b")
    with pytest.raises(SealingError, match="'a'"):
        other.open(environment, "env-1")
    sealer.open(environment, "env-1")
    assert environment.spec.data["TOKEN"].value == CANARY


def test_a_key_file_is_checked(tmp_path: Path) -> None:
    path = tmp_path / "keys"
    path.write_text("a not-base64!\n")
    with pytest.raises(SealingError, match="keys:1"):
        Sealer.from_file(path)


def _database_bytes(server: StigmerServer) -> bytes:
    database = Path(server.db_url.split("///", 1)[1])
    return b"".join(path.read_bytes() for path in database.parent.glob(database.name + "*"))


def _row(server: StigmerServer, resource_id: str) -> bytes:
    database = Path(server.db_url.split("///", 1)[1])
    with sqlite3.connect(database) as connection:
        found = connection.execute("SELECT data FROM resources WHERE id = ?", (resource_id,))
        return bytes(found.fetchone()[0])


def _opened(server: StigmerServer, env_id: str, key_file: Path) -> str:
    """The stored TOKEN, opened with the key file's keys alone (reads never show it)."""
    environment = Environment()
    environment.ParseFromString(_row(server, env_id))
    Sealer.from_file(key_file).open(environment, env_id)
    return environment.spec.data["TOKEN"].value


async def _get(server: StigmerServer, env_id: str) -> Environment:
    async with grpc.aio.insecure_channel(server.address) as channel:
        stub = env_query.EnvironmentQueryControllerStub(channel)
        found: Environment = await stub.get(
            EnvironmentId(value=env_id), metadata=server.metadata, timeout=10
        )
        return found


@pytest.mark.integration
async def test_secrets_are_sealed_at_rest_and_keys_rotate(
    temporal_address: str, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    key_file = tmp_path / "secrets.keys"
    old, new = Sealer.new_key_line("old"), Sealer.new_key_line("new")
    key_file.write_text(old + "\n")
    env = {"STIGMER_SECRETS_KEY_FILE": str(key_file), "STIGMER_API_KEYS": "bootstrap-key-1"}
    async with start_stigmer_server(temporal_address, env=env, data_dir=data_dir) as server:
        async with grpc.aio.insecure_channel(server.address) as channel:
            created = await env_cmd.EnvironmentCommandControllerStub(channel).create(
                _environment(CANARY), metadata=server.metadata, timeout=10
            )
        env_id = created.metadata.id
        # A read opens the value (a value no key opens fails the read) and masks it.
        assert (await _get(server, env_id)).spec.data["TOKEN"].value == ""
    assert CANARY.encode() not in _database_bytes(server)
    assert b"sealed:v1:old:" in _row(server, env_id)
    assert _opened(server, env_id, key_file) == CANARY

    # Rotation: the new key first, the old one still there; the restart re-seals.
    key_file.write_text(new + "\n" + old + "\n")
    async with start_stigmer_server(temporal_address, env=env, data_dir=data_dir) as server:
        assert (await _get(server, env_id)).spec.data["TOKEN"].is_secret
    assert b"sealed:v1:new:" in _row(server, env_id)
    # Then the old key goes, and every secret still opens.
    key_file.write_text(new + "\n")
    async with start_stigmer_server(temporal_address, env=env, data_dir=data_dir) as server:
        assert (await _get(server, env_id)).spec.data["TOKEN"].is_secret
    assert CANARY.encode() not in _database_bytes(server)
    assert _opened(server, env_id, key_file) == CANARY
