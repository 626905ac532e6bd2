"""The storage layer on SQLite and on a real PostgreSQL, with the same tests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text

from ai.stigmer.agentic.agentexecution.v1.api_pb2 import AgentExecution
from ai.stigmer.agentic.agentexecution.v1.enum_pb2 import ExecutionPhase
from ai.stigmer.agentic.agentexecution.v1.status_pb2 import AgentExecutionStatus, AgentMessage
from ai.stigmer.agentic.skill.v1.api_pb2 import Skill
from ai.stigmer.commons.apiresource.enum_pb2 import ApiResourceOwnerScope
from ai.stigmer.commons.apiresource.metadata_pb2 import ApiResourceMetadata
from stigmer_server import resources as kinds
from stigmer_server.errors import AlreadyExists
from stigmer_server.execution import ExecutionHub, StatusWriter
from stigmer_server.ids import IdFactory
from stigmer_server.storage import MIGRATIONS, Store, migrate

pytestmark = pytest.mark.integration
PLATFORM = ApiResourceOwnerScope.API_RESOURCE_OWNER_SCOPE_PLATFORM
ORG = ApiResourceOwnerScope.API_RESOURCE_OWNER_SCOPE_ORGANIZATION
IDS = IdFactory()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"
    url: str = request.getfixturevalue("postgres_url")  # a fresh database on the real cluster
    return url


@pytest.fixture
async def store(db_url: str) -> AsyncIterator[Store]:
    opened = await Store.open(db_url)
    try:
        yield opened
    finally:
        await opened.close()


def _skill(slug: str, org: str = "") -> Skill:
    skill = Skill(api_version="agentic.stigmer.ai/v1", kind="Skill")
    skill.metadata.CopyFrom(
        ApiResourceMetadata(
            id=IDS.new("skl"),
            slug=slug,
            name=slug,
            org=org,
            owner_scope=ORG if org else PLATFORM,
            version=1,
        )
    )
    skill.metadata.created_at.GetCurrentTime()
    skill.metadata.updated_at.GetCurrentTime()
    skill.spec.markdown_content = "body"
    return skill


def _execution(session_id: str, phase: ExecutionPhase.ValueType) -> AgentExecution:
    execution = AgentExecution(api_version="agentic.stigmer.ai/v1", kind="AgentExecution")
    execution_id = IDS.new("aex")
    execution.metadata.CopyFrom(
        ApiResourceMetadata(id=execution_id, slug=execution_id, owner_scope=PLATFORM, version=1)
    )
    execution.metadata.created_at.GetCurrentTime()
    execution.metadata.updated_at.GetCurrentTime()
    execution.spec.session_id = session_id
    execution.spec.message = "hi"
    execution.status.phase = phase
    execution.status.sequence = 1
    return execution


async def test_schema_is_created_once_and_migrations_are_recorded(store: Store) -> None:
    engine = store._engine  # the test looks at the tables themselves
    assert await migrate(engine) == len(MIGRATIONS)
    async with engine.connect() as connection:
        versions = (
            (await connection.execute(text("SELECT version FROM schema_version"))).scalars().all()
        )
    assert list(versions) == [len(MIGRATIONS)]


async def test_roundtrip_keeps_the_message_whole(store: Store) -> None:
    skill = _skill("round-trip")
    skill.metadata.labels["a"] = "b"
    async with store.transaction() as tx:
        await tx.insert(kinds.SKILL, skill)
    assert await store.get(kinds.SKILL, skill.metadata.id) == skill
    async with store.transaction() as tx:
        assert await tx.get_by_slug(kinds.SKILL, PLATFORM, "", "round-trip") == skill
        assert await tx.get(kinds.AGENT, skill.metadata.id) is None, "ids are looked up per kind"


async def test_slug_is_unique_per_kind_scope_and_org(store: Store) -> None:
    async with store.transaction() as tx:
        await tx.insert(kinds.SKILL, _skill("dup"))
        await tx.insert(kinds.SKILL, _skill("dup", org="acme"))
    with pytest.raises(AlreadyExists, match=r"metadata\.slug"):
        async with store.transaction() as tx:
            await tx.insert(kinds.SKILL, _skill("dup"))
    with pytest.raises(AlreadyExists):
        async with store.transaction() as tx:
            await tx.insert(kinds.SKILL, _skill("dup", org="acme"))


async def test_a_failed_transaction_writes_nothing(store: Store) -> None:
    async with store.transaction() as tx:
        before = await tx.dump()

    async def insert_twice() -> None:
        async with store.transaction() as tx:
            await tx.insert(kinds.SKILL, _skill("first-of-two"))
            await tx.insert(kinds.SKILL, _skill("first-of-two"))

    with pytest.raises(AlreadyExists):
        await insert_twice()
    async with store.transaction() as tx:
        assert await tx.dump() == before


async def test_replace_and_delete(store: Store) -> None:
    skill = _skill("before")
    other = _skill("taken")
    async with store.transaction() as tx:
        await tx.insert(kinds.SKILL, skill)
        await tx.insert(kinds.SKILL, other)
    skill.metadata.slug = "after"
    skill.metadata.version = 2
    async with store.transaction() as tx:
        await tx.replace(kinds.SKILL, skill)
        assert await tx.get_by_slug(kinds.SKILL, PLATFORM, "", "before") is None
    skill.metadata.slug = "taken"
    with pytest.raises(AlreadyExists):
        async with store.transaction() as tx:
            await tx.replace(kinds.SKILL, skill)
    async with store.transaction() as tx:
        await tx.delete(kinds.SKILL, skill.metadata.id)
    assert await store.get(kinds.SKILL, skill.metadata.id) is None


async def test_pages_filters_and_the_turns_holding_a_session(store: Store) -> None:
    skills = [_skill(f"page-{i}", org="paged") for i in range(5)]
    session = IDS.new("ses")
    phases = [
        ExecutionPhase.EXECUTION_COMPLETED,
        ExecutionPhase.EXECUTION_IN_PROGRESS,
        ExecutionPhase.EXECUTION_PENDING,
        ExecutionPhase.EXECUTION_FAILED,
    ]
    executions = [_execution(session, phase) for phase in phases]
    async with store.transaction() as tx:
        for resource in skills:
            await tx.insert(kinds.SKILL, resource)
        await tx.insert(kinds.SKILL, _skill("elsewhere", org="other"))
        for execution in executions:
            await tx.insert(kinds.AGENT_EXECUTION, execution)
        await tx.insert(
            kinds.AGENT_EXECUTION, _execution(IDS.new("ses"), ExecutionPhase.EXECUTION_PENDING)
        )
    seen, token = [], ""
    while True:
        async with store.transaction() as tx:
            page = await tx.list_page(kinds.SKILL, org="paged", page_size=2, after_id=token)
        seen += [item.metadata.id for item in page.items]  # type: ignore[attr-defined]
        token = page.next_page_token
        if not token:
            break
    assert seen == [s.metadata.id for s in skills]
    async with store.transaction() as tx:
        in_session = await tx.list_page(
            kinds.AGENT_EXECUTION, org="", page_size=10, after_id="", session_id=session
        )
        for released in (executions[0], executions[3]):
            await tx.executions.set_released(released.metadata.id)
    async with store.transaction() as tx:
        holding = await tx.executions.unreleased(session)
        before_last = await tx.executions.unreleased(session, before=executions[2].metadata.id)
    assert [e.metadata.id for e in in_session.items] == [e.metadata.id for e in executions]  # type: ignore[attr-defined]
    assert holding == [executions[1].metadata.id, executions[2].metadata.id]
    assert before_last == [executions[1].metadata.id]


async def test_concurrent_status_updates_are_all_applied_in_sequence(store: Store) -> None:
    execution = _execution(IDS.new("ses"), ExecutionPhase.EXECUTION_PENDING)
    async with store.transaction() as tx:
        await tx.insert(kinds.AGENT_EXECUTION, execution)
    hub = ExecutionHub()
    # Two writers on one database, as two server processes would be on PostgreSQL.
    writers = [StatusWriter(store, hub), StatusWriter(store, hub)]
    results = await asyncio.gather(
        *(
            writers[i % 2].apply(
                execution.metadata.id,
                AgentExecutionStatus(messages=[AgentMessage(id="m", content="x", append=True)]),
            )
            for i in range(40)
        )
    )
    assert sorted(r.sequence for r in results) == list(range(2, 42))
    stored = await store.get(kinds.AGENT_EXECUTION, execution.metadata.id)
    assert isinstance(stored, AgentExecution)
    assert stored.status.messages[0].content == "x" * 40
    assert stored.status.sequence == 41


async def test_a_streamed_turn_costs_the_database_its_changes_not_rewrites(store: Store) -> None:
    """500 appended chunks: every change is one small log row, the log is folded into the
    snapshot now and then, and all bytes written stay within 3x the final execution."""
    execution = _execution(IDS.new("ses"), ExecutionPhase.EXECUTION_PENDING)
    async with store.transaction() as tx:
        await tx.insert(kinds.AGENT_EXECUTION, execution)
    writer = StatusWriter(store, ExecutionHub())
    before = store.bytes_written
    # 500 chunks of 300 characters: 150 kB, past the size below which the log is never folded.
    chunks = [f"chunk {i:03d} " + "of a long streamed answer " * 11 + "." for i in range(500)]
    text = "".join(chunks)
    for index, chunk in enumerate(chunks):
        message = AgentMessage(id="m", content=chunk, append=index > 0)
        await writer.apply(execution.metadata.id, AgentExecutionStatus(messages=[message]))
    stored = await store.get(kinds.AGENT_EXECUTION, execution.metadata.id)
    assert isinstance(stored, AgentExecution)
    assert stored.status.messages[0].content == text
    assert stored.status.sequence == 1 + len(chunks)
    written = store.bytes_written - before
    final_size = stored.ByteSize()
    assert written <= 3 * final_size, (written, final_size)
    async with store.transaction() as tx:
        log = await tx.executions.log_after(execution.metadata.id, 0)
        head = await tx.executions.head(execution.metadata.id)
    assert head is not None
    assert len(log) < len(chunks), "the log was folded into the snapshot at least once"
    assert [change.sequence for change in log] == list(
        range(stored.status.sequence - len(log) + 1, stored.status.sequence + 1)
    )


async def test_a_metadata_update_folds_the_log_and_keeps_the_status(store: Store) -> None:
    execution = _execution(IDS.new("ses"), ExecutionPhase.EXECUTION_PENDING)
    async with store.transaction() as tx:
        await tx.insert(kinds.AGENT_EXECUTION, execution)
    writer = StatusWriter(store, ExecutionHub())
    for piece in ("a", "b"):
        message = AgentMessage(id="m", content=piece, append=True)
        await writer.apply(execution.metadata.id, AgentExecutionStatus(messages=[message]))
    async with store.transaction() as tx:
        current = await tx.get(kinds.AGENT_EXECUTION, execution.metadata.id, for_update=True)
        assert isinstance(current, AgentExecution)
        current.metadata.labels["team"] = "blue"
        await tx.replace(kinds.AGENT_EXECUTION, current)
    async with store.transaction() as tx:
        assert await tx.executions.log_after(execution.metadata.id, 0) == []
    stored = await store.get(kinds.AGENT_EXECUTION, execution.metadata.id)
    assert isinstance(stored, AgentExecution)
    assert (stored.status.messages[0].content, stored.status.sequence) == ("ab", 3)
    assert stored.metadata.labels["team"] == "blue"
    await writer.apply(
        execution.metadata.id,
        AgentExecutionStatus(messages=[AgentMessage(id="m", content="c", append=True)]),
    )
    again = await store.get(kinds.AGENT_EXECUTION, execution.metadata.id)
    assert isinstance(again, AgentExecution)
    assert (again.status.messages[0].content, again.status.sequence) == ("abc", 4)


async def test_a_repeated_settlement_of_an_ended_turn_stores_nothing_new(store: Store) -> None:
    """SettleExecution retried (its first run's answer lost with a killed server): the
    execution keeps its final sequence, so a watcher's copy that ended there stays whole."""
    execution = _execution(IDS.new("ses"), ExecutionPhase.EXECUTION_PENDING)
    async with store.transaction() as tx:
        await tx.insert(kinds.AGENT_EXECUTION, execution)
    writer = StatusWriter(store, ExecutionHub())
    final = AgentExecutionStatus(phase=ExecutionPhase.EXECUTION_FAILED, error="model gone")
    first = await writer.apply(execution.metadata.id, final)
    again = await writer.apply(execution.metadata.id, final)
    assert again.applied
    assert again.sequence == first.sequence
    stored = await store.get(kinds.AGENT_EXECUTION, execution.metadata.id)
    assert isinstance(stored, AgentExecution)
    assert stored.status.sequence == first.sequence
    # Anything else after the end is still a change (a late message, say).
    late = AgentExecutionStatus(messages=[AgentMessage(id="late", content="x")])
    assert (await writer.apply(execution.metadata.id, late)).sequence == first.sequence + 1
