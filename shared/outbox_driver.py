"""The relay's statements, run straight on an asyncpg connection the relay keeps between passes.

A relay pass is a few fixed statements (lock, claim or poll, mark sent) in one short transaction,
after every commit that staged events. Through SQLAlchemy each pass paid a pool checkout whose
pre-ping is three round trips of its own (BEGIN, `;`, ROLLBACK), the statement and result layers,
and a greenlet switch per statement. Here the relay keeps one pooled connection checked out and
runs its statements on the driver, which prepares each once per connection (asyncpg's statement
cache; none under PgBouncer, whose settings turn that cache off). A connection that failed in a
pass is dropped and the next pass checks out another, pre-pinged by the pool as before. The kept
connection also holds the relay's LISTEN, set again on each connection it keeps: no second
connection for it, and a LISTEN lost with its connection comes back with the next.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import datetime
from typing import Any

from pydantic_core import from_json
from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.db import Database
from shared.outbox import StagedRow


class RelayStatements:
    """The relay's statements on `table`, and the connection they run on."""

    def __init__(
        self,
        db: Database,
        table: Table,
        *,
        lock_key: int,
        batch_size: int,
        listen: tuple[str, Callable[[], None]] | None = None,
    ) -> None:
        """`listen`: a channel to LISTEN on, and what to call on each notification."""
        self.db = db
        self._listen = listen
        self._held: AsyncConnection | None = None
        name = f"{table.schema}.{table.name}"
        # The key is a literal: a parameter of unknown type would leave PostgreSQL to choose
        # between the function's (bigint) and (int, int) forms.
        self._try_lock = f"SELECT pg_try_advisory_xact_lock({int(lock_key)})"
        # `headers::text`, parsed by pydantic: SQLAlchemy's jsonb codec on these connections
        # would decode with the standard library's `json`, several times slower.
        self._unsent = (
            f"SELECT id, topic, key, value, headers::text, created_at FROM {name} "
            f"WHERE sent_at IS NULL ORDER BY id LIMIT {int(batch_size)}"
        )
        # `= ANY` of one array, not `IN` of one parameter per row: one statement for any size.
        self._mark_sent = f"UPDATE {name} SET sent_at = $2 WHERE id = ANY($1::bigint[])"
        # Claims staged rows not sent yet, unless an older row of one of their keys is unsent
        # (left by a crash, or staged without being kept): publishing past it would break that
        # lead's order, so then nothing is claimed and the poll publishes in id order.
        self._claim = (
            f"UPDATE {name} SET sent_at = $2 WHERE id = ANY($1::bigint[]) AND sent_at IS NULL "
            f"AND NOT EXISTS (SELECT 1 FROM {name} AS o WHERE o.sent_at IS NULL "
            "AND o.id < $3::bigint AND o.key = ANY($4::varchar[])) RETURNING id"
        )
        self._prune = f"DELETE FROM {name} WHERE sent_at < $1"

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Any]:
        """The kept connection in a transaction: committed when the block ends, rolled back when
        it raises. A connection whose rollback failed too (or closed) is dropped, not reused."""
        driver = await self._driver()
        try:
            async with driver.transaction():
                yield driver
        except BaseException:
            if driver.is_closed() or driver.is_in_transaction():
                await self.drop(invalidate=True)
            raise

    async def try_lock(self, driver: Any) -> bool:
        """The advisory lock between the replicas' relays, held until the transaction ends."""
        return bool(await driver.fetchval(self._try_lock))

    async def unsent(self, driver: Any) -> list[StagedRow]:
        """Up to a batch of unsent rows, oldest first."""
        return [
            StagedRow(row[0], row[1], row[2], row[3], from_json(row[4]), row[5])
            for row in await driver.fetch(self._unsent)
        ]

    async def mark_sent(self, driver: Any, ids: Sequence[int], at: datetime) -> None:
        await driver.execute(self._mark_sent, ids, at)

    async def claim(self, driver: Any, rows: Sequence[StagedRow], at: datetime) -> set[int]:
        """Marks `rows` (in id order) sent unless one was sent already or an older row of one of
        their keys is unsent; returns the ids claimed."""
        ids = [row.id for row in rows]
        keys = list({row.key for row in rows})
        return {record[0] for record in await driver.fetch(self._claim, ids, at, ids[0], keys)}

    async def prune(self, before: datetime) -> None:
        """Deletes rows sent before `before` (one statement: a transaction of its own)."""
        driver = await self._driver()
        try:
            await driver.execute(self._prune, before)
        except BaseException:
            if driver.is_closed():
                await self.drop(invalidate=True)
            raise

    async def drop(self, *, invalidate: bool = False) -> None:
        """Give the kept connection back to the pool (or, `invalidate`, close it for good: one
        that listens must not serve anybody else)."""
        held, self._held = self._held, None
        if held is None:
            return
        if invalidate:
            with contextlib.suppress(Exception):
                await held.invalidate()
        with contextlib.suppress(Exception):
            await held.close()

    async def connect(self) -> None:
        """Check out the connection now (and LISTEN on it), not at the first pass."""
        await self._driver()

    async def _driver(self) -> Any:
        if self._held is not None:
            return (await self._held.get_raw_connection()).driver_connection
        held = self._held = await self.db.engine.connect()
        try:
            driver: Any = (await held.get_raw_connection()).driver_connection
            if self._listen is not None:
                channel, wake = self._listen
                await driver.add_listener(channel, lambda *_: wake())
        except Exception:
            await self.drop(invalidate=True)
            raise
        return driver


__all__ = ["RelayStatements"]
