"""Every service's ORM models and its migrations describe the same schema.

The database the tests run on is built by the migrations (see `migrated` in conftest), so
comparing it with each service's metadata finds a model changed without a migration, or a
migration that the models never learnt about.
"""

from __future__ import annotations

import importlib
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, MetaData

from shared.db import Database

SERVICES = ("ingest", "scoring", "routing", "feedback")


def _differences(connection: Connection, schema: str, metadata: MetaData) -> list[Any]:
    def only_this_service(name: str | None, type_: str, parent_names: dict[str, str | None]) -> bool:
        return type_ != "schema" or name == schema

    context = MigrationContext.configure(
        connection,
        opts={
            "include_schemas": True,
            "include_name": only_this_service,
            "version_table_schema": schema,
            "compare_type": True,
        },
    )
    return list(compare_metadata(context, metadata))


@pytest.mark.parametrize("service", SERVICES)
async def test_models_match_the_migrated_schema(db: Database, service: str) -> None:
    models = importlib.import_module(f"services.{service}.models")
    schema: str = models.SCHEMA
    metadata: MetaData = models.Base.metadata
    async with db.engine.connect() as connection:
        differences = await connection.run_sync(_differences, schema, metadata)
    assert differences == []
