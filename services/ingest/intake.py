"""Group commit for form posts: submissions that arrive together are written together.

A form post costs little CPU of its own; what it paid for was a transaction (begin, lead upsert,
submission and outbox inserts, commit) with every round trip and driver call that goes with it.
Here each request hands its validated submission to the writer and waits; the writer takes
everything waiting, stores it in one transaction with one statement per table, and answers
each request only after the commit, so `202` still means durable in the outbox. Under light
load a batch is one submission (no added wait); under heavy load the cost is shared.

A batch that fails is retried one submission at a time, so one bad submission never fails its
neighbours, and each either commits whole or not at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from typing import Any

from opentelemetry import context as otel_context
from sqlalchemy.ext.asyncio import AsyncSession

from services.ingest.activities import stitch_visitor
from services.ingest.errors import IdempotencyKeyReused
from services.ingest.identity import company_domain, match_key
from services.ingest.models import Submission, outbox
from services.ingest.repository import LeadRepository, NewSubmission, SubmissionRepository
from services.ingest.schemas import SubmissionAccepted
from shared.contracts import LeadIngested, LeadIngestedPayload, utc_now
from shared.db import Database
from shared.outbox import announce
from shared.tracing import extract_context, inject_headers

log = logging.getLogger(__name__)

PRODUCER = "ingest"
Answer = SubmissionAccepted | Exception


@dataclass(frozen=True)
class PreparedSubmission:
    """A validated form fill, ready to be stored: its event payload, idempotency key, request
    digest and the fields as stored."""

    payload: LeadIngestedPayload
    idempotency_key: str | None
    digest: str
    fields: dict[str, Any]


@dataclass(frozen=True)
class Pending(PreparedSubmission):
    """One prepared submission waiting for its batch, with the trace context of its request (the
    writer's own task has none), so its events continue the request's trace."""

    trace: dict[str, str] = field(default_factory=dict)
    done: asyncio.Future[SubmissionAccepted] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class SubmissionWriter:
    """The background writer of one process (a `BackgroundWorker`): a transaction owner, like the
    consumer wrapper and the outbox relay."""

    name = "submission_writer"

    def __init__(self, db: Database, *, max_batch: int = 500) -> None:
        self.db = db
        self.max_batch = max_batch
        self._queue: list[Pending] = []
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None

    async def submit(self, prepared: PreparedSubmission) -> SubmissionAccepted:
        """Accept one submission; returns once it is committed (or raises why it was not)."""
        if not self.healthy:
            raise RuntimeError("the submission writer is not running")
        pending = Pending(
            prepared.payload,
            prepared.idempotency_key,
            prepared.digest,
            prepared.fields,
            trace=inject_headers(),
        )
        self._queue.append(pending)
        self._wake.set()
        # Shielded: a client that hangs up does not cancel a write that may already be committed.
        return await asyncio.shield(pending.done)

    @property
    def healthy(self) -> bool:
        return self._task is not None and not self._task.done()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        """Write what is waiting, then stop."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            await self._task

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue:
                batch, self._queue = self._queue[: self.max_batch], self._queue[self.max_batch :]
                await self._write(batch)
            if self._stopping:
                return

    async def _write(self, batch: list[Pending]) -> None:
        try:
            async with self.db.transaction() as session:
                answers = await accept_submissions(session, batch)
        except Exception as exc:
            if len(batch) > 1:
                log.warning("ingest.batch_retried_singly", extra={"size": len(batch), "error": repr(exc)})
                for pending in batch:
                    await self._write([pending])
                return
            answers = [exc]
        for pending, answer in zip(batch, answers, strict=True):
            if pending.done.done():
                continue
            if isinstance(answer, Exception):
                pending.done.set_exception(answer)
            else:
                pending.done.set_result(answer)
        # Answers nobody awaits any more (the client hung up) need not be reported as unretrieved.
        for pending in batch:
            if pending.done.done() and not pending.done.cancelled():
                with contextlib.suppress(Exception):
                    pending.done.exception()


async def accept_submissions(session: AsyncSession, batch: list[Pending]) -> list[Answer]:
    """`service.accept_lead` for many submissions at once: one idempotency lookup, one lead
    upsert, one insert of submissions and their events; an answer (or refusal) per submission.

    A key seen before (or taken by a concurrent request) replays the first answer, or is refused
    when the body differs; a key repeated inside the batch is written once and replayed after.
    """
    submissions = SubmissionRepository(session)
    keys = sorted({p.idempotency_key for p in batch if p.idempotency_key is not None})
    earlier = await submissions.by_idempotency_keys(keys)
    answers: list[Answer | None] = [None] * len(batch)
    first_of_key: dict[str, int] = {}
    fresh: list[int] = []
    for index, pending in enumerate(batch):
        key = pending.idempotency_key
        if key is not None and key in earlier:
            answers[index] = replay(earlier[key], pending.digest)
        elif key is not None and key in first_of_key:
            continue  # answered from the first of its key, below
        else:
            if key is not None:
                first_of_key[key] = index
            fresh.append(index)
    received_at = utc_now()
    leads = await LeadRepository(session).resolve_batch(
        [
            (
                batch[i].payload.email,
                match_key(batch[i].payload.email),
                company_domain(batch[i].payload.email),
            )
            for i in fresh
        ],
        seen_at=received_at,
    )
    events: dict[int, LeadIngested] = {}
    rows: list[NewSubmission] = []
    for index in fresh:
        pending = batch[index]
        lead = leads[match_key(pending.payload.email)]
        payload = pending.payload
        if lead.account_id is not None:
            payload = payload.model_copy(
                update={"account_id": lead.account_id, "account_owner_id": lead.account_owner_id}
            )
        event = events[index] = LeadIngested.new(lead_id=lead.lead_id, payload=payload, producer=PRODUCER)
        rows.append(
            NewSubmission(
                lead_id=lead.lead_id,
                form_id=payload.form_id or payload.source,
                source=payload.source,
                event_id=event.event_id,
                idempotency_key=pending.idempotency_key,
                request_hash=pending.digest,
                fields=pending.fields,
                received_at=received_at,
            )
        )
    stored = await submissions.add_many_with_events(
        rows, [events[i] for i in fresh], [batch[i].trace for i in fresh]
    )
    if stored:
        await announce(session, outbox)
    lost = [batch[i].idempotency_key for i in fresh if events[i].event_id not in stored]
    winners = await submissions.by_idempotency_keys(sorted(k for k in lost if k is not None))
    for index in fresh:
        event = events[index]
        if event.event_id in stored:
            answers[index] = SubmissionAccepted(lead_id=event.lead_id, event_id=event.event_id)
            if event.payload.visitor_id:
                token = otel_context.attach(extract_context(batch[index].trace))
                try:
                    await stitch_visitor(
                        session,
                        visitor_id=event.payload.visitor_id,
                        lead_id=event.lead_id,
                        email=event.payload.email,
                        decision=f"{event.payload.source}_submission",
                        caused_by=event,
                    )
                finally:
                    otel_context.detach(token)
        else:
            key = batch[index].idempotency_key
            assert key is not None, "only a taken idempotency key stops a submission"
            answers[index] = replay(winners[key], batch[index].digest)
    for index, pending in enumerate(batch):
        if answers[index] is None:
            assert pending.idempotency_key is not None
            first = batch[first_of_key[pending.idempotency_key]]
            answers[index] = _replay_sibling(answers[first_of_key[pending.idempotency_key]], first, pending)
    return [a if a is not None else RuntimeError("unanswered") for a in answers]


def replay(earlier: Submission, digest: str) -> Answer:
    if earlier.request_hash != digest:
        return IdempotencyKeyReused("this Idempotency-Key was already used with a different body")
    return SubmissionAccepted(lead_id=earlier.lead_id, event_id=earlier.event_id)


def _replay_sibling(first_answer: Answer | None, first: Pending, pending: Pending) -> Answer:
    if first.digest != pending.digest:
        return IdempotencyKeyReused("this Idempotency-Key was already used with a different body")
    if first_answer is None or isinstance(first_answer, Exception):
        return first_answer or RuntimeError("unanswered")
    return first_answer
