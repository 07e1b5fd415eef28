"""Alembic, once for every service: each service migrates only its own Postgres schema.

A service's `migrations/env.py` is two lines: import its metadata and call `run_env`. The runner
takes the package that holds a `migrations/` folder; which packages there are is the
application's registry (`baton.services`), not this module's business.
"""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import Iterable
from importlib.resources import files

from alembic import command, context
from alembic.config import Config
from sqlalchemy import Connection, MetaData, pool, text
from sqlalchemy.ext.asyncio import create_async_engine


def alembic_config(package: str, database_url: str) -> Config:
    """The Alembic configuration for the `migrations/` folder inside `package` (dotted name)."""
    config = Config()
    config.set_main_option("script_location", str(files(package) / "migrations"))
    config.set_main_option("file_template", "%%(year)d_%%(month).2d_%%(day).2d_%%(rev)s_%%(slug)s")
    config.attributes["database_url"] = database_url
    return config


def upgrade(package: str, database_url: str, revision: str = "head") -> None:
    """Bring one package's schema to `revision`. Blocking: run it in a thread from async code."""
    command.upgrade(alembic_config(package, database_url), revision)


def upgrade_all(packages: Iterable[str], database_url: str) -> None:
    for package in packages:
        upgrade(package, database_url)


def run_env(metadata: MetaData) -> None:
    """The body of every service's env.py (online mode only: Baton never emits SQL scripts)."""
    schema = metadata.schema
    if schema is None:
        raise RuntimeError("service metadata must name its schema")
    url = context.config.attributes.get("database_url")
    if not url:
        raise RuntimeError("alembic_config() must be given the database URL")

    def migrate(connection: Connection) -> None:
        # Replicas starting together must not race: one migrates, the others wait and find nothing to do.
        connection.execute(
            text("SELECT pg_advisory_xact_lock(:key)"),
            {"key": zlib.crc32(f"baton-migrate:{schema}".encode())},
        )
        connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
        context.configure(
            connection=connection,
            target_metadata=metadata,
            version_table_schema=schema,
            include_schemas=False,
            transaction_per_migration=False,
        )
        with context.begin_transaction():
            context.run_migrations()

    async def run() -> None:
        engine = create_async_engine(url, poolclass=pool.NullPool)
        try:
            async with engine.begin() as connection:
                await connection.run_sync(migrate)
        finally:
            await engine.dispose()

    asyncio.run(run())


def create_messaging_tables(schema: str, *, consumer: bool) -> None:
    """The outbox (and, for consumers, processed_event) as of their first version.

    Called from each service's first migration; later changes get migrations of their own.
    """
    import sqlalchemy as sa
    from alembic import op
    from sqlalchemy.dialects import postgresql as pg

    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger(), primary_key=True, autoincrement=True),
        sa.Column("event_id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("topic", sa.String(255), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("value", sa.LargeBinary(), nullable=False),
        sa.Column("headers", pg.JSONB(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("id", name="pk_outbox"),
        sa.UniqueConstraint("event_id", name="uq_outbox_event_id"),
        schema=schema,
    )
    op.create_index(
        "ix_outbox_unsent", "outbox", ["id"], schema=schema, postgresql_where=sa.text("sent_at IS NULL")
    )
    if consumer:
        op.create_table(
            "processed_event",
            sa.Column("consumer", sa.String(255), nullable=False),
            sa.Column("event_id", pg.UUID(as_uuid=True), nullable=False),
            sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False),
            sa.PrimaryKeyConstraint("consumer", "event_id", name="pk_processed_event"),
            schema=schema,
        )
