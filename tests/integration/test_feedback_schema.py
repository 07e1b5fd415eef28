"""Feedback's ORM models and its migrations describe the same schema."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection

from services.feedback.models import SCHEMA, Base
from shared.db import Database


def _differences(connection: Connection) -> list[Any]:
    def only_feedback(name: str | None, type_: str, parent_names: dict[str, str | None]) -> bool:
        return type_ != "schema" or name == SCHEMA

    context = MigrationContext.configure(
        connection,
        opts={
            "include_schemas": True,
            "include_name": only_feedback,
            "version_table_schema": SCHEMA,
            "compare_type": True,
        },
    )
    return list(compare_metadata(context, Base.metadata))


async def test_models_match_the_migrated_schema(db: Database) -> None:
    async with db.engine.connect() as connection:
        differences = await connection.run_sync(_differences)
    assert differences == []
