"""Ingest's background loops: group commit for submissions that arrive together, and the sync of
the shared form rate limit (`RateLimitSync`, with the postgres store only).

A form post costs little CPU of its own; what it paid for was a transaction (begin, lead upsert,
submission and outbox inserts, commit) with every round trip and driver call that goes with it.
Here each request hands its prepared submission to the writer and waits; the writer takes
everything waiting, stores it with the one intake use case (`intake.accept_submissions`) in one
transaction, and answers each request only after the commit, so `202` still means durable in the
outbox. Under light load a batch is one submission (no added wait); under heavy load the cost is
shared.

A batch that fails is retried one group at a time (a group is what one request brought: one form
post, or every lead of one webhook delivery), so one bad submission never fails its neighbours,
and each group either commits whole or not at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from services.ingest import service
from services.ingest.cache import FormCache
from services.ingest.errors import WebhookPayloadInvalid
from services.ingest.intake import Accepted, Answer, PreparedSubmission, accept_submissions
from services.ingest.quarantine import quarantine_delivery
from services.ingest.repository import SubmissionRepository
from services.ingest.schemas import FormRead, SubmissionAccepted
from services.ingest.shared_rate_limit import SharedWindowLimit, prune_windows
from shared.db import Database
from shared.problems import Problem
from shared.tracing import inject_headers
from shared.workers import PeriodicWorker

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Group:
    """What one request handed over, waiting for its batch."""

    submissions: Sequence[PreparedSubmission]
    done: asyncio.Future[list[Accepted]] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class SubmissionWriter:
    """The background writer of one process (a `BackgroundWorker`): ingest's transaction owner
    for intake, like the consumer wrapper and the outbox relay are for theirs."""

    name = "submission_writer"

    def __init__(self, db: Database, *, forms: FormCache | None = None, max_batch: int = 500) -> None:
        self.db = db
        self.forms = forms or FormCache(ttl_s=0)
        self.max_batch = max_batch
        self._queue: list[_Group] = []
        self._reading: dict[str, asyncio.Future[FormRead]] = {}
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None

    async def find_form(self, form_id: str) -> FormRead:
        """The form's configuration, from the cache or a short read of its own: it ends before
        the wait for the writer, so a waiting request never holds a connection the writer needs.
        Requests that miss the cache together share one read: when a busy form's entry expires,
        every post in flight would otherwise read it in a transaction of its own."""
        form = self.forms.cached(form_id)
        if form is not None:
            return form
        reading = self._reading.get(form_id)
        if reading is None:
            reading = self._reading[form_id] = asyncio.ensure_future(self._read_form(form_id))
            reading.add_done_callback(lambda _: self._reading.pop(form_id, None))
        # Shielded: a client that hangs up must not cancel the read the others wait for.
        return await asyncio.shield(reading)

    async def _read_form(self, form_id: str) -> FormRead:
        async with self.db.transaction() as session:
            return await service.find_form(session, form_id=form_id, forms=self.forms)

    async def accepted_before(self, keys: Sequence[str]) -> dict[str, SubmissionAccepted]:
        """The first answers of the idempotency keys already taken (a platform's lead ids seen
        before need no fetch), read in a short transaction of its own."""
        async with self.db.transaction() as session:
            earlier = await SubmissionRepository(session).by_idempotency_keys(keys)
        return {k: SubmissionAccepted(lead_id=s.lead_id, event_id=s.event_id) for k, s in earlier.items()}

    async def quarantine(
        self, *, source: str, body: bytes, params: Mapping[str, str], problem: WebhookPayloadInvalid
    ) -> uuid.UUID:
        """Keep an unmappable delivery whole (`quarantine.quarantine_delivery`), in a short
        transaction of its own; returns its quarantine id."""
        async with self.db.transaction() as session:
            return await quarantine_delivery(
                session, source=source, body=body, params=params, problem=problem
            )

    async def submit(self, prepared: PreparedSubmission) -> Accepted:
        """Accept one submission; returns once it is committed (or raises why it was not)."""
        return (await self.submit_all([prepared]))[0]

    async def submit_each(self, submissions: Sequence[PreparedSubmission]) -> list[Accepted | Problem]:
        """Accept submissions that stand alone (the rows of an import): each committed, or
        refused with its reason, on its own, in the writer's shared batches."""
        answers = await asyncio.gather(*(self.submit(p) for p in submissions), return_exceptions=True)
        for answer in answers:
            if isinstance(answer, BaseException) and not isinstance(answer, Problem):
                raise answer
        return [a for a in answers if isinstance(a, Accepted | Problem)]

    async def submit_all(self, group: Sequence[PreparedSubmission]) -> list[Accepted]:
        """Accept submissions that stand or fall together (the leads of one delivery); returns
        once they are committed, or raises the first refusal with nothing of the group stored."""
        if not self.healthy:
            raise RuntimeError("the submission writer is not running")
        if not group:
            return []
        trace = inject_headers()
        # Copied only to carry a trace: with none recording, the submissions go as they are.
        pending = _Group([replace(p, trace=trace) for p in group] if trace else group)
        self._queue.append(pending)
        self._wake.set()
        # A client that hangs up cancels only its wait: the group stays queued, or in the write
        # already under way, and `_settle` leaves its cancelled answer alone (no shield needed).
        return await pending.done

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
                taken, size = 0, 0
                for group in self._queue:
                    if taken and size + len(group.submissions) > self.max_batch:
                        break
                    taken, size = taken + 1, size + len(group.submissions)
                batch, self._queue = self._queue[:taken], self._queue[taken:]
                await self._write(batch)
            if self._stopping:
                return

    async def _write(self, batch: list[_Group]) -> None:
        submissions = [prepared for group in batch for prepared in group.submissions]
        try:
            async with self.db.transaction() as session:
                outcomes = _outcomes(batch, await accept_submissions(session, submissions))
                for group, outcome in zip(batch, outcomes, strict=True):
                    if isinstance(outcome, Exception) and len(group.submissions) > 1:
                        raise _PartlyRefused(outcome)
        except Exception as exc:
            if len(batch) > 1:
                log.warning("ingest.batch_retried_singly", extra={"size": len(batch), "error": repr(exc)})
                for group in batch:
                    await self._write([group])
                return
            _settle(batch[0], exc.refusal if isinstance(exc, _PartlyRefused) else exc)
            return
        for group, outcome in zip(batch, outcomes, strict=True):
            _settle(group, outcome)


class _PartlyRefused(Exception):
    """A group of several submissions had one refused: the transaction is rolled back, so the
    group stands or falls whole."""

    def __init__(self, refusal: Exception) -> None:
        super().__init__(str(refusal))
        self.refusal = refusal


def _outcomes(batch: Sequence[_Group], answers: Sequence[Answer]) -> list[list[Accepted] | Exception]:
    outcomes: list[list[Accepted] | Exception] = []
    start = 0
    for group in batch:
        mine = answers[start : start + len(group.submissions)]
        start += len(group.submissions)
        refusal = next((a for a in mine if isinstance(a, Exception)), None)
        outcomes.append(refusal or [a for a in mine if isinstance(a, Accepted)])
    return outcomes


def _settle(group: _Group, outcome: list[Accepted] | Exception) -> None:
    if group.done.done():
        return
    if isinstance(outcome, Exception):
        group.done.set_exception(outcome)
    else:
        group.done.set_result(outcome)
    # An answer nobody awaits any more (the client hung up) need not be reported as unretrieved.
    if not group.done.cancelled():
        with contextlib.suppress(Exception):
            group.done.exception()


class RateLimitSync(PeriodicWorker):
    """Adds this replica's form-post counts to the shared windows every `interval_s` and reads the
    totals back (`SharedWindowLimit.sync`); prunes ended windows every `prune_every_s`. While the
    database is away a pass fails and this replica limits on its own view until it is back."""

    name = "rate_limit_sync"

    def __init__(
        self,
        db: Database,
        *,
        limit: SharedWindowLimit,
        interval_s: float = 0.25,
        prune_every_s: float = 60.0,
    ) -> None:
        super().__init__(interval_s=interval_s)
        self.db = db
        self.limit = limit
        self.prune_every_s = prune_every_s
        self._pruned_at: float | None = None

    async def run_once(self) -> None:
        async with self.db.transaction() as session:
            await self.limit.sync(session)
        now = asyncio.get_running_loop().time()
        if self._pruned_at is None:
            self._pruned_at = now
        elif now - self._pruned_at >= self.prune_every_s:
            self._pruned_at = now
            async with self.db.transaction() as session:
                await prune_windows(session, window_s=self.limit.window_s)

    async def stop(self) -> None:
        """Stop, adding the last counts so the other replicas see them."""
        await super().stop()
        try:
            await self.run_once()
        except Exception:
            log.warning("ingest.rate_limit_last_sync_failed", exc_info=True)
