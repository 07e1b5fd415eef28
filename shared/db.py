"""Async database access: one engine per process, sessions whose transaction the boundary owns."""

from __future__ import annotations

import functools
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any, Final

from sqlalchemy import MetaData, TextClause, text
from sqlalchemy import event as sa_event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import Session

NAMING_CONVENTION: Final = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


@functools.lru_cache(maxsize=256)
def sql_text(statement: str) -> TextClause:
    """`text(statement)`, built once per statement: parsing its bind parameters on every call of a
    hot path (a batch insert assembled from parts) cost more than encoding a small batch."""
    return text(statement)


def pgbouncer_connect_args() -> dict[str, Any]:
    """asyncpg options for PgBouncer in transaction mode, where consecutive transactions of one
    client connection may run on different server connections: no statement is kept prepared
    (neither asyncpg's cache nor SQLAlchemy's), and the statements the driver still prepares get
    names no other client uses. (PgBouncer 1.21+ with `max_prepared_statements` tracks prepared
    statements itself and needs none of this.)"""
    return {
        "statement_cache_size": 0,
        "prepared_statement_cache_size": 0,
        "prepared_statement_name_func": lambda: f"__asyncpg_{uuid.uuid4()}__",
    }


def service_metadata(schema: str) -> MetaData:
    """Metadata for one service: its own Postgres schema and the explicit constraint names."""
    return MetaData(schema=schema, naming_convention=NAMING_CONVENTION)


class Database:
    """Holds the engine and session factory; created in a lifespan, disposed on exit."""

    def __init__(
        self,
        url: str,
        *,
        pool_size: int = 10,
        max_overflow: int | None = None,
        pre_ping: bool = True,
        pgbouncer: bool = False,
        server_settings: Mapping[str, str] | None = None,
    ) -> None:
        # `server_settings` are session parameters set on every connection (e.g. lock_timeout).
        connect_args: dict[str, Any] = {"server_settings": dict(server_settings)} if server_settings else {}
        if pgbouncer:
            connect_args.update(pgbouncer_connect_args())
        self.engine: AsyncEngine = create_async_engine(
            url,
            pool_size=pool_size,
            # At most pool_size + max_overflow connections per process: the connection budget
            # (deploy/README.md) multiplies this by the replicas.
            max_overflow=pool_size if max_overflow is None else max_overflow,
            pool_pre_ping=pre_ping,
            connect_args=connect_args,
        )
        self.sessions: async_sessionmaker[AsyncSession] = async_sessionmaker(
            # A session closed at the end of `transaction()` cannot be used again: one used after
            # its block would begin a transaction nobody ends, holding locks and a connection.
            self.engine,
            expire_on_commit=False,
            close_resets_only=False,
        )

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session in one transaction: committed on success, rolled back on any error.

        Only transaction owners (request dependencies, the consumer wrapper, the relay) use this;
        services and repositories receive the session and only flush.
        """
        async with self.sessions() as session, session.begin():
            yield session

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.engine.dispose()


_AFTER_COMMIT = "baton.after_commit"


def after_commit(session: AsyncSession, callback: Callable[[], None]) -> None:
    """Call `callback` once `session`'s transaction has committed, and never if it rolls back:
    for what a process keeps beside the database (a cache), which must not run ahead of it."""
    session.info.setdefault(_AFTER_COMMIT, []).append(callback)


@sa_event.listens_for(Session, "after_commit")
def _run_after_commit(session: Session) -> None:
    for callback in session.info.pop(_AFTER_COMMIT, ()):
        callback()


@sa_event.listens_for(Session, "after_soft_rollback")
def _drop_after_commit(session: Session, _previous: object) -> None:
    session.info.pop(_AFTER_COMMIT, None)
