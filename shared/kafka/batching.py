"""Handlers that take a partition's batch at once, and the consumer spans both paths open.

A batch handler does for N events what its single-event handler does for each, with a few
statements instead of a few per event. The consumer still opens one span per event; since no
single span is current while the batch is handled, each event's trace context is left in the
session for the outbox, which stamps an outgoing event with the context of the event that
caused it (`shared.outbox.add_events`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from aiokafka import ConsumerRecord
from opentelemetry import propagate, trace
from opentelemetry.trace import Span, SpanKind
from sqlalchemy.ext.asyncio import AsyncSession

from shared.contracts import AnyEvent
from shared.outbox import TRACE_HEADERS_BY_CAUSE
from shared.tracing import extract_context, passed_on, spans_recorded, tracer

EventHandler = Callable[[AsyncSession, Any], Awaitable[None]]
BatchHandler = Callable[[AsyncSession, Sequence[Any]], Awaitable[None]]
Outcome = Literal["processed", "duplicate", "ignored", "dead_lettered"]
K = TypeVar("K")
V = TypeVar("V")


@dataclass(frozen=True)
class BatchingHandler:
    """An event handler with a fast path for batches. `many` receives, in partition order,
    every event of a batch not processed before, inside the batch's one transaction; it must
    have the same effect as `one` applied to each in turn. `one` serves the per-message path
    (retries, dead-lettering) and is what calling the handler runs."""

    one: EventHandler
    many: BatchHandler

    async def __call__(self, session: AsyncSession, event: Any) -> None:
        await self.one(session, event)


async def side_by_side(
    batches: Mapping[K, V], process: Callable[[K, V], Awaitable[None]], *, limit: int
) -> None:
    """`process` each batch in its own task, at most `limit` at once; returns when all are done
    (and raises the first failure, once the others finished or were cancelled)."""
    bound = asyncio.Semaphore(limit)

    async def bounded(key: K, value: V) -> None:
        async with bound:
            await process(key, value)

    async with asyncio.TaskGroup() as group:
        for key, value in batches.items():
            group.create_task(bounded(key, value))


def _attributes(record: ConsumerRecord[bytes, bytes], event: AnyEvent, group_id: str) -> dict[str, Any]:
    return {
        "messaging.system": "kafka",
        "messaging.destination.name": record.topic,
        "messaging.consumer.group.name": group_id,
        "messaging.kafka.offset": record.offset,
        "baton.event_id": str(event.event_id),
        "baton.lead_id": str(event.lead_id),
    }


def current_span(
    record: ConsumerRecord[bytes, bytes], event: AnyEvent, group_id: str
) -> AbstractContextManager[Span]:
    """A consumer span continuing the producer's trace (from the message headers)."""
    return tracer().start_as_current_span(
        f"{record.topic} process",
        context=extract_context(record.headers),
        kind=SpanKind.CONSUMER,
        attributes=_attributes(record, event, group_id),
    )


async def run_batch(
    session: AsyncSession,
    handler: BatchingHandler,
    batch: Sequence[tuple[ConsumerRecord[bytes, bytes], AnyEvent]],
    group_id: str,
) -> None:
    """Hand `batch` to `handler.many` with one span per event, each event's trace context
    recorded for the outbox."""
    by_cause: dict[Any, dict[str, str]] = session.info.setdefault(TRACE_HEADERS_BY_CAUSE, {})
    if not spans_recorded():
        # Nothing exports spans: each event's own context is what continues its trace (making
        # and ending a stand-in span per event was a sixth of a batch's time).
        fields = propagate.get_global_textmap().fields
        for record, event in batch:
            by_cause[event.event_id] = passed_on(record.headers, fields)
        await handler.many(session, [event for _, event in batch])
        return
    spans = [
        tracer().start_span(
            f"{record.topic} process",
            context=extract_context(record.headers),
            kind=SpanKind.CONSUMER,
            attributes=_attributes(record, event, group_id),
        )
        for record, event in batch
    ]
    for (_, event), span in zip(batch, spans, strict=True):
        carrier: dict[str, str] = {}
        propagate.inject(carrier, context=trace.set_span_in_context(span))
        by_cause[event.event_id] = carrier
    try:
        await handler.many(session, [event for _, event in batch])
    finally:
        for span in spans:
            span.end()


async def handle_in_order(
    session: AsyncSession,
    events: Sequence[tuple[ConsumerRecord[bytes, bytes], AnyEvent, EventHandler | None]],
    fresh: set[Any],
    group_id: str,
) -> list[tuple[str, Outcome]]:
    """A batch's events in order, inside its one transaction: the `fresh` ones (not processed
    before) run, runs of events whose handler takes batches going to it together, the others
    one by one; returns each event's type and outcome."""
    outcomes: list[tuple[str, Outcome]] = []
    run: list[tuple[ConsumerRecord[bytes, bytes], AnyEvent]] = []
    run_handler: BatchingHandler | None = None
    for record, event, handler in events:
        if handler is None:
            outcomes.append((event.event_type, "ignored"))
            continue
        if event.event_id not in fresh:
            outcomes.append((event.event_type, "duplicate"))
            continue
        fresh.discard(event.event_id)  # the same event twice in one batch runs once
        outcomes.append((event.event_type, "processed"))
        if run and handler is not run_handler:
            assert run_handler is not None
            await run_batch(session, run_handler, run, group_id)
            run, run_handler = [], None
        if isinstance(handler, BatchingHandler):
            run.append((record, event))
            run_handler = handler
        else:
            with current_span(record, event, group_id):
                await handler(session, event)
    if run:
        assert run_handler is not None
        await run_batch(session, run_handler, run, group_id)
    return outcomes
