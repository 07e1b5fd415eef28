"""Multi-row inserts as `INSERT ... SELECT FROM unnest(arrays)`: one statement text for any
number of rows.

SQLAlchemy's executemany with RETURNING renders a multi-row VALUES per batch, a new statement
for every batch size: PostgreSQL parses and plans each one, the driver prepares each one, and
the ORM builds and caches each one, which cost more CPU than the rows themselves in a busy
consumer. Arrays are encoded by asyncpg in C and the statement is prepared once per connection.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from pydantic_core import to_json
from sqlalchemy import Table
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import JSONB

_DIALECT = postgresql.dialect()  # type: ignore[no-untyped-call]
_SQL: dict[tuple[Table, tuple[str, ...]], str] = {}


def unnest_insert(table: Table, columns: Sequence[str]) -> str:
    """`INSERT INTO <table> AS t (columns) SELECT ... FROM unnest(...)`, with one bind parameter
    per column named after it (an array; see `as_arrays`). JSONB columns travel as text and are
    cast per row, since asyncpg has no codec for jsonb arrays. The caller may append ON CONFLICT
    and RETURNING clauses; the target is aliased `t`."""
    key = (table, tuple(columns))
    found = _SQL.get(key)
    if found is None:
        casts, selected = [], []
        for name in columns:
            column_type = table.c[name].type
            if isinstance(column_type, JSONB):
                casts.append(f"CAST(:{name} AS text[])")
                selected.append(f"CAST(u.{name} AS jsonb)")
            else:
                casts.append(f"CAST(:{name} AS {column_type.compile(dialect=_DIALECT)}[])")
                selected.append(f"u.{name}")
        names = ", ".join(columns)
        found = _SQL[key] = (
            f"INSERT INTO {table.schema}.{table.name} AS t ({names}) "
            f"SELECT {', '.join(selected)} FROM unnest({', '.join(casts)}) AS u({names})"
        )
    return found


def as_arrays(table: Table, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> dict[str, list[Any]]:
    """The parameters of `unnest_insert(table, columns)` for `rows`, each a sequence of values
    in `columns`' order; JSONB values are serialized here (None stays SQL NULL)."""
    arrays = [list(column) for column in zip(*rows, strict=True)] or [[] for _ in columns]
    for i, name in enumerate(columns):
        if isinstance(table.c[name].type, JSONB):
            arrays[i] = [None if value is None else to_json(value).decode() for value in arrays[i]]
    return dict(zip(columns, arrays, strict=True))
