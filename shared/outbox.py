"""The transactional outbox: events are rows written with the state change, then relayed.

A service never publishes to Kafka from a request or a handler. It calls `add_event` with the
session that holds its state change; both commit together. The relay then publishes unsent
rows in id order (keyed by lead id, so per-lead order holds), waits for the broker's acks and
marks them sent. A crash between publish and mark re-publishes; consumers are idempotent.

At commit, a relay running in the same process is woken directly, and handed the rows staged
through `stage` (`add_events`) so it publishes them from memory rather than reading them back
(`shared.outbox_relay`). Only a process without a relay of that schema sends `NOTIFY`: one per
transaction at thousands of commits a second serializes commits on PostgreSQL's notification
queue lock for no gain.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, NamedTuple, Protocol

from pydantic_core import from_json, to_json
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    func,
    select,
    text,
)
from sqlalchemy import event as sa_event
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from shared.contracts import Envelope, new_event_id
from shared.contracts.topics import LEAD_KEY_CHANGED, topic_for
from shared.db import sql_text
from shared.sealing import SESSION_KEY_RING, KeyRing, seal_with
from shared.tracing import inject_headers

SENT_RETENTION = timedelta(days=7)
_STAGED = "baton_outbox_staged"
# The rows this transaction staged through `stage`, and whether it staged any other way.
_STAGED_ROWS = "baton_outbox_staged_rows"
_UNREMEMBERED = "baton_outbox_unremembered"
_NOTIFIED = "baton.outbox_notified_in"
TRACE_HEADERS_BY_CAUSE = "baton.trace_headers_by_cause"


class StagedRow(NamedTuple):
    """An outbox row as its transaction staged it, kept for the relay of this process."""

    id: int
    topic: str
    key: str
    value: bytes
    headers: dict[str, str]
    created_at: datetime


class LocalRelay(Protocol):
    def wake(self) -> None: ...
    def staged(self, rows: list[StagedRow]) -> None: ...


class EncodedHeaders(list[str]):
    """The `headers` column of `outbox_columns`: each row's headers as JSON (the parameter), and
    `parsed`, the same headers as the dicts they were encoded from, so `remember` need not parse
    what was just encoded. A list built from it otherwise (sliced, concatenated) is a plain list,
    whose JSON `remember` parses."""

    parsed: list[dict[str, str]]


def encoded_headers(parsed: list[dict[str, str]], encoded: list[str]) -> EncodedHeaders:
    headers = EncodedHeaders(encoded)
    headers.parsed = parsed
    return headers


# The relays running in this process, by notification channel.
_local_relays: dict[str, set[LocalRelay]] = {}


def outbox_table(metadata: MetaData) -> Table:
    return Table(
        "outbox",
        metadata,
        Column("id", BigInteger, primary_key=True, autoincrement=True),
        Column("event_id", UUID(as_uuid=True), nullable=False, unique=True),
        Column("event_type", String(64), nullable=False),
        Column("topic", String(255), nullable=False),
        Column("key", String(255), nullable=False),
        Column("value", LargeBinary, nullable=False),
        Column("headers", JSONB, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("sent_at", DateTime(timezone=True)),
        Index("ix_outbox_unsent", "id", postgresql_where=text("sent_at IS NULL")),
    )


def processed_event_table(metadata: MetaData) -> Table:
    return Table(
        "processed_event",
        metadata,
        Column("consumer", String(255), nullable=False),
        Column("event_id", UUID(as_uuid=True), nullable=False),
        Column("processed_at", DateTime(timezone=True), nullable=False),
        PrimaryKeyConstraint("consumer", "event_id"),
    )


def notify_channel(schema: str) -> str:
    return f"baton_outbox_{schema}"


async def add_event(session: AsyncSession, table: Table, event: Envelope) -> None:
    """Stage `event` for publication in the caller's transaction (no broker call here)."""
    await add_events(session, table, [event])


async def add_events(session: AsyncSession, table: Table, events: Sequence[Envelope]) -> None:
    """Stage several events in one statement; their ids keep the given order."""
    if not events:
        return
    await stage(session, table, staged_columns(session, events))


async def stage(session: AsyncSession, table: Table, columns: dict[str, list[Any]]) -> None:
    """Insert the rows of `outbox_columns` and announce them; with a relay in this process,
    the rows are remembered for it to publish from memory once the transaction commits."""
    if not _local_relays.get(notify_channel(str(table.schema))):
        await session.execute(sql_text(insert_sql(table)), columns)
        await announce(session, table)
        return
    returned = await session.execute(sql_text(insert_sql(table, returning=True)), columns)
    remember(session, table, columns, [(row[0], row[1]) for row in returned])
    await announce(session, table, remembered=True)


def remember(
    session: AsyncSession,
    table: Table,
    columns: Mapping[str, Sequence[Any]],
    returned: Iterable[tuple[int, uuid.UUID]],
) -> None:
    """Keep the rows `columns` staged in `session`'s transaction, given the (id, event_id) pairs
    `insert_sql(table, returning=True)` returned, for the process's relay (none: nothing kept).
    A row of `columns` with no pair was not inserted (its statement's condition left it out)."""
    if not _local_relays.get(notify_channel(str(table.schema))):
        return
    ids = {event_id: row_id for row_id, event_id in returned}
    kept: list[StagedRow] = session.info.setdefault(_STAGED_ROWS, [])
    headers = columns["headers"]
    # (Extended in place, the list would no longer match its dicts: parse it then.)
    parsed = (
        headers.parsed
        if isinstance(headers, EncodedHeaders) and len(headers.parsed) == len(headers)
        else None
    )
    for i, event_id in enumerate(columns["event_id"]):
        if event_id not in ids:
            continue
        kept.append(
            StagedRow(
                ids[event_id],
                columns["topic"][i],
                columns["key"][i],
                columns["value"][i],
                parsed[i] if parsed is not None else from_json(headers[i]),
                columns["created_at"][i],
            )
        )


def staged_columns(session: AsyncSession, events: Sequence[Envelope]) -> dict[str, list[Any]]:
    """`outbox_columns` for events staged in `session`'s transaction, each continuing the trace
    of the event that caused it; for a caller that folds `insert_sql` into its own statement
    (and then calls `announce`)."""
    ring: KeyRing | None = session.info.get(SESSION_KEY_RING)
    if ring is not None:
        # A lead's personal fields leave sealed with its key (scoring's lead.qualified snapshot).
        events = [seal_with(ring, event) for event in events]
    traces = None
    # A consumer batch leaves each incoming event's trace context here (no span is current).
    by_cause: dict[Any, dict[str, str]] = session.info.get(TRACE_HEADERS_BY_CAUSE) or {}
    if by_cause:
        current = inject_headers()
        traces = [by_cause.get(event.causation_id, current) for event in events]
    return outbox_columns(events, traces)


def insert_sql(table: Table, *, returning: bool = False) -> str:
    """`INSERT ... SELECT FROM unnest(...)` of `outbox_columns`' arrays: one statement text for any
    number of events, so PostgreSQL plans it once per connection and the driver encodes arrays
    in C (a multi-row VALUES is a new statement, and a new plan, for every batch size). A caller
    may append a `WHERE` to insert only when an earlier part of its statement succeeded.
    `returning` adds `RETURNING id, event_id`, what `remember` takes."""
    found = _INSERT_SQL.get((table, returning))
    if found is None:
        found = _INSERT_SQL[table, returning] = (
            f"INSERT INTO {table.schema}.{table.name} "
            "(event_id, event_type, topic, key, value, headers, created_at) "
            "SELECT e, t, tp, k, v, CAST(h AS jsonb), c FROM unnest(CAST(:event_id AS uuid[]), "
            "CAST(:event_type AS varchar[]), CAST(:topic AS varchar[]), CAST(:key AS varchar[]), "
            "CAST(:value AS bytea[]), CAST(:headers AS text[]), CAST(:created_at AS timestamptz[])) "
            "AS u(e, t, tp, k, v, h, c)" + (" RETURNING id, event_id" if returning else "")
        )
    return found


_INSERT_SQL: dict[tuple[Table, bool], str] = {}


def outbox_columns(
    events: Sequence[Envelope], traces: Sequence[Mapping[str, str]] | None = None
) -> dict[str, list[Any]]:
    """The parameters of `insert_sql`: one array per column, in the events' order. `traces[i]` is
    the trace context `events[i]` continues (by default, the caller's current one)."""
    current = inject_headers() if traces is None else {}
    parsed: list[dict[str, str]] = []
    columns: dict[str, list[Any]] = {
        "event_id": [],
        "event_type": [],
        "topic": [],
        "key": [],
        "value": [],
        "headers": [],
        "created_at": [],
    }
    for index, event in enumerate(events):
        event_id = str(event.event_id)
        correlation_id = event_id if event.correlation_id == event.event_id else str(event.correlation_id)
        headers = {
            "event_type": event.event_type,
            "schema_version": str(event.schema_version),
            "event_id": event_id,
            "correlation_id": correlation_id,
            "producer": event.producer,
            "content-type": "application/json",
            # The W3C trace context, so the consumer continues this trace.
            **(current if traces is None else traces[index]),
        }
        columns["event_id"].append(event.event_id)
        columns["event_type"].append(event.event_type)
        columns["topic"].append(topic_for(event.event_type))
        columns["key"].append(str(event.lead_id))
        columns["value"].append(event.to_bytes())
        # jsonb keeps no formatting: pydantic's serializer is five times faster than `json`'s.
        columns["headers"].append(to_json(headers).decode())
        parsed.append(headers)
        columns["created_at"].append(event.occurred_at)
    columns["headers"] = encoded_headers(parsed, columns["headers"])
    return columns


def lead_key_columns(keys: Sequence[tuple[uuid.UUID, bytes | None]], *, at: datetime) -> dict[str, list[Any]]:
    """`outbox_columns` of records on `lead.key_changed`: a lead's sealing key, or (None) the
    empty value the relay sends as its tombstone. Not events: the raw key, keyed by lead id."""
    parsed = {"event_type": LEAD_KEY_CHANGED}
    headers = to_json(parsed).decode()
    return {
        # Version 7, as every event id: the outbox's btree takes each at its right edge.
        "event_id": [new_event_id() for _ in keys],
        "event_type": [LEAD_KEY_CHANGED] * len(keys),
        "topic": [LEAD_KEY_CHANGED] * len(keys),
        "key": [str(lead_id) for lead_id, _ in keys],
        "value": [key or b"" for _, key in keys],
        "headers": encoded_headers([parsed] * len(keys), [headers] * len(keys)),
        "created_at": [at] * len(keys),
    }


async def announce(session: AsyncSession, table: Table, *, remembered: bool = False) -> None:
    """Tell the relays that this transaction staged events, effective at its commit;
    `remembered`: every row staged since the last announcement was passed to `remember`."""
    channel = notify_channel(str(table.schema))
    if _local_relays.get(channel):
        session.info[_STAGED] = channel
        if not remembered:
            session.info[_UNREMEMBERED] = True
        return
    # Delivered at commit only, so a relay elsewhere wakes exactly when there is something to send.
    # PostgreSQL folds identical notifications of a transaction into one, so one per
    # transaction is the same signal and saves a round trip per event in a consumer batch.
    transaction = session.get_transaction()
    if transaction is None or session.info.get((_NOTIFIED, channel)) is not transaction:
        await session.execute(select(func.pg_notify(channel, "")))
        session.info[(_NOTIFIED, channel)] = transaction


def notify_due(session: AsyncSession, table: Table) -> str | None:
    """The channel `announce` would notify in a round trip of its own now, for a caller that
    folds `pg_notify(channel, '')` into a statement it sends anyway (and then calls `notified`);
    None when `announce` needs no round trip (local relays, or notified in this transaction)."""
    channel = notify_channel(str(table.schema))
    transaction = session.get_transaction()
    if _local_relays.get(channel) or transaction is None:
        return None
    return None if session.info.get((_NOTIFIED, channel)) is transaction else channel


def notified(session: AsyncSession, table: Table) -> None:
    """Record that the caller's statement sent the notification `notify_due` named."""
    session.info[(_NOTIFIED, notify_channel(str(table.schema)))] = session.get_transaction()


@sa_event.listens_for(Session, "after_commit")
def _wake_local_relays(session: Session) -> None:
    channel = session.info.pop(_STAGED, None)
    rows: list[StagedRow] = session.info.pop(_STAGED_ROWS, [])
    unremembered = session.info.pop(_UNREMEMBERED, False)
    relays = _local_relays.get(channel, set()) if channel else set()
    if rows and relays:
        # One relay publishes them; the others look at the table only if some rows were not kept.
        next(iter(relays)).staged(rows)
    if unremembered or not rows:
        for relay in relays:
            relay.wake()


@sa_event.listens_for(Session, "after_soft_rollback")
def _forget_staged(session: Session, _previous: object) -> None:
    session.info.pop(_STAGED, None)
    session.info.pop(_STAGED_ROWS, None)
    session.info.pop(_UNREMEMBERED, None)


__all__ = [
    "EncodedHeaders",
    "StagedRow",
    "add_event",
    "add_events",
    "announce",
    "insert_sql",
    "lead_key_columns",
    "notify_channel",
    "outbox_columns",
    "outbox_table",
    "processed_event_table",
    "remember",
    "stage",
]
