"""A transaction's fixed statements on the session's own asyncpg connection.

Hot paths with a few fixed statements (ingest's intake, scoring's batch round) paid most of their
statements' cost in SQLAlchemy: compiling and caching a `text()` construct, processing its
parameters and results, and a greenlet switch for every statement. `fetch` sends such a statement
to the driver instead, which prepares it once per connection. The session still owns the
transaction (its commit commits them), and every other statement of the transaction still goes
through it.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

# `:name` as in `text()`, not a `::` cast.
_NAMED = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")
_KEPT = "baton.driver_connection"


@functools.lru_cache(maxsize=64)
def positional(statement: str) -> tuple[str, tuple[str, ...]]:
    """`statement` with `text()`'s named parameters numbered as asyncpg takes them, and the
    names in that order (a name used twice is one parameter)."""
    names: list[str] = []

    def number(match: re.Match[str]) -> str:
        if match.group(1) not in names:
            names.append(match.group(1))
        return f"${names.index(match.group(1)) + 1}"

    return _NAMED.sub(number, statement), tuple(names)


async def fetch(session: AsyncSession, statement: str, params: Mapping[str, Any]) -> list[Any]:
    """The rows of `statement` (named parameters, as for `text()`), run on the session's
    connection in its transaction."""
    sql, names = positional(statement)
    adapted, driver = await _connection(session)
    try:
        rows: list[Any] = await driver.fetch(sql, *(params[name] for name in names))
    except Exception as error:
        # Raised as SQLAlchemy would have raised it, so its handlers (a NUL in a text field is a
        # 422, not a 500) and a consumer's retry and dead-letter rules see the same error
        # through either path.
        try:
            adapted._handle_exception(error)
        except Exception as translated:
            raise DBAPIError.instance(sql, None, translated, adapted.dbapi.Error) from translated
        raise
    return rows


async def _connection(session: AsyncSession) -> tuple[Any, Any]:
    """SQLAlchemy's adapted connection and the asyncpg connection under it, for the session's
    current transaction (kept for its next statements)."""
    transaction = session.sync_session.get_transaction()
    kept = session.info.get(_KEPT)
    if kept is not None and transaction is not None and kept[0] is transaction:
        return kept[1], kept[2]
    raw = await (await session.connection()).get_raw_connection()
    adapted: Any = raw.dbapi_connection
    # SQLAlchemy's asyncpg adapter sends BEGIN with the transaction's first statement: when that
    # is this one, begin here, or the statement would run (and commit) on its own.
    if adapted._transaction is None:
        await adapted._start_transaction()
    session.info[_KEPT] = (session.sync_session.get_transaction(), adapted, raw.driver_connection)
    return adapted, raw.driver_connection
