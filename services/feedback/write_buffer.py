"""Holding a consumer batch's fact writes back and sending them as one executemany each.

Every feedback event is one or two single-row upserts. Executed one by one, the execution
itself (SQLAlchemy's per-call work, a round trip) costs far more than the row; a batch instead
collects a round's writes (at most one event per lead, `shared.contracts.rounds`) and sends
each statement once with all its rows. The repositories write through `write`, which executes at
once unless the session is inside `buffered_writes`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import Executable
from sqlalchemy.ext.asyncio import AsyncSession

_BUFFER = "feedback.write_buffer"


class _WriteBuffer:
    def __init__(self) -> None:
        # By statement identity, in first-use order: the repositories build each statement once.
        self.rows: dict[int, tuple[Executable, list[dict[str, Any]]]] = {}

    def add(self, statement: Executable, params: dict[str, Any]) -> None:
        self.rows.setdefault(id(statement), (statement, []))[1].append(params)


async def write(session: AsyncSession, statement: Executable, params: dict[str, Any]) -> None:
    """Execute `statement` with `params` now, or at the end of the enclosing `buffered_writes`."""
    buffer: _WriteBuffer | None = session.info.get(_BUFFER)
    if buffer is None:
        await session.execute(statement, params)
    else:
        buffer.add(statement, params)


@asynccontextmanager
async def buffered_writes(session: AsyncSession) -> AsyncIterator[None]:
    """Collect the writes made inside, then send each statement once with all its rows.

    The caller guarantees no two writes of one statement meet the same row (one event per lead)
    and that no write inside reads what another wrote: the facts are merged by order-free rules
    (earliest, latest, first value), so running them statement by statement is the same as one
    by one."""
    buffer = _WriteBuffer()
    session.info[_BUFFER] = buffer
    try:
        yield
    finally:
        del session.info[_BUFFER]
    for statement, rows in buffer.rows.values():
        await session.execute(statement, rows)
