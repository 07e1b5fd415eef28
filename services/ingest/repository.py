"""All of ingest's SQL."""

from __future__ import annotations

import json
import uuid
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import String, Uuid, any_, bindparam, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.ingest.key_repository import KEY_RECORD_HEADERS
from services.ingest.models import Account, Form, Lead, Source, Submission, outbox
from shared.contracts.topics import LEAD_KEY_CHANGED
from shared.outbox import insert_sql
from shared.sealing import new_key
from shared.session_driver import fetch


class ResolvedLead(NamedTuple):
    lead_id: uuid.UUID
    account_id: uuid.UUID | None
    account_owner_id: uuid.UUID | None
    first_touch: dict[str, Any] | None
    key: bytes | None = None  # the lead's sealing key, when it has one


class IssuedKey(NamedTuple):
    """A lead's sealing key issued now, and its key record staged in the outbox."""

    row_id: int
    record_id: uuid.UUID
    lead_id: uuid.UUID
    key: bytes


@dataclass(frozen=True)
class ResolvedBatch:
    leads: dict[str, ResolvedLead]
    issued: list[IssuedKey]


@dataclass(frozen=True)
class NewSubmission:
    lead_id: uuid.UUID
    form_id: str
    source: str
    event_id: uuid.UUID
    idempotency_key: str | None
    request_hash: str
    fields: dict[str, Any]
    received_at: datetime
    touch: str | None = None  # JSON text, encoded once for the lead and the submission


class LeadRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def resolve_batch(
        self,
        people: Sequence[tuple[str | None, str, str | None, str | None, str | None]],
        *,
        seen_at: datetime,
        keyed: Collection[str] = (),
    ) -> ResolvedBatch:
        """The leads for many `(email, match key, company domain, phone, touch)` by match key, created on
        first sight (race-free upsert), attached to the account of their domain if there is one,
        in one round trip: this runs on every submission. A phone given now is kept; one given
        before is not erased by a submission without one. A new lead's first touch is its first
        submission's (`people` in order of arrival, the touch as JSON text); a lead's first touch
        never changes.

        The leads of the match keys `keyed` (those whose events are sealed) are issued a sealing
        key in the same statement when they have none, its key record staged in the outbox
        (`issued`); every lead comes with the key it has, but for a key a concurrent transaction
        issued while this one waited on the lead (None here: `sealing.sealed` reads it after)."""
        unique = sorted(
            {
                key: (email, domain, phone, touch) for email, key, domain, phone, touch in reversed(people)
            }.items()
        )
        if not unique:
            return ResolvedBatch({}, [])
        params = {
            "emails": [email for _, (email, _, _, _) in unique],
            "keys": [key for key, _ in unique],
            "domains": [domain for _, (_, domain, _, _) in unique],
            "phones": [phone for _, (_, _, phone, _) in unique],
            "touches": [touch for _, (_, _, _, touch) in unique],
            "lead_keys": [new_key() if key in keyed else None for key, _ in unique],
            "key_topic": LEAD_KEY_CHANGED,
            "key_headers": KEY_RECORD_HEADERS,
            "at": seen_at,
        }
        leads: dict[str, ResolvedLead] = {}
        issued: list[IssuedKey] = []
        for row in await fetch(self.session, _RESOLVE_LEAD_BATCH, params):
            leads[row[0]] = ResolvedLead(row[1], row[2], row[3], row[4], row[5])
            if row[6] is not None:
                issued.append(IssuedKey(row[6], row[7], row[1], row[5]))
        return ResolvedBatch(leads, issued)

    async def keys_by_phone(self, phones: Sequence[str]) -> dict[str, str]:
        """The match key of the earliest live lead with each phone number, for phone-only
        submissions to join the lead that number already belongs to."""
        if not phones:
            return {}
        rows = await self.session.execute(
            select(Lead.phone, Lead.match_key)
            .where(
                Lead.phone == any_(bindparam("phones", list(phones), ARRAY(String))),
                Lead.erased_at.is_(None),
            )
            .order_by(Lead.first_seen_at.desc())
        )
        # Ordered newest first, so the earliest lead of a number is the one kept.
        return {row[0]: row[1] for row in rows if row[0] is not None}

    async def resolve_many(self, emails: dict[str, str], *, seen_at: datetime) -> dict[str, uuid.UUID]:
        """Lead ids by match key for `{match_key: email}`, creating the missing leads, in one statement."""
        if not emails:
            return {}
        ordered = sorted(emails.items())
        params = {
            "emails": [email for _, email in ordered],
            "keys": [key for key, _ in ordered],
            "at": seen_at,
        }
        return {row[0]: row[1] for row in await self.session.execute(_RESOLVE_LEADS, params)}

    async def emails_of(self, lead_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, str]:
        if not lead_ids:
            return {}
        rows = await self.session.execute(
            select(Lead.id, Lead.email).where(Lead.id == any_(bindparam("ids", list(lead_ids), ARRAY(Uuid))))
        )
        return {row[0]: row[1] for row in rows if row[1] is not None}

    async def get(self, lead_id: uuid.UUID) -> Lead | None:
        return await self.session.get(Lead, lead_id)

    async def id_by_match_key(self, key: str) -> uuid.UUID | None:
        lead_id: uuid.UUID | None = await self.session.scalar(select(Lead.id).where(Lead.match_key == key))
        return lead_id

    async def erase(self, lead_id: uuid.UUID, *, at: datetime) -> bool:
        """Replace the email with a tombstone; False when there is no such lead or it was erased."""
        tombstone = f"erased-{lead_id}@erased.invalid"
        statement = (
            update(Lead)
            .where(Lead.id == lead_id, Lead.erased_at.is_(None))
            .values(email=tombstone, match_key=tombstone, phone=None, erased_at=at)
            .returning(Lead.id)
            .execution_options(synchronize_session=False)
        )
        return (await self.session.execute(statement)).scalar_one_or_none() is not None


# Fixed text run on the driver (`driver.fetch`), not a statement built per call: building and
# cache-keying the Core construct cost more CPU than the round trip on this path. A null domain
# matches no account. PostgreSQL draws
# new rows' ids (`gen_random_uuid`, version 4 like `uuid.uuid4`): cheaper there than drawn and
# sent from here, and a lead that exists keeps its own.
_RESOLVE_LEAD_BATCH = (
    "WITH person AS (SELECT * FROM unnest(CAST(:emails AS varchar[]), CAST(:keys AS varchar[]), "
    "CAST(:domains AS varchar[]), CAST(:phones AS varchar[]), CAST(:touches AS text[]), "
    "CAST(:lead_keys AS bytea[])) AS u(e, k, d, p, t, lk)), "
    "resolved AS (INSERT INTO ingest.lead AS lead (id, email, match_key, phone, first_touch, first_seen_at, "
    "last_seen_at, account_id) SELECT gen_random_uuid(), e, k, p, CAST(t AS jsonb), :at, :at, "
    "(SELECT a.id FROM ingest.account AS a WHERE a.domain = d) FROM person "
    "ON CONFLICT (match_key) DO UPDATE SET last_seen_at = EXCLUDED.last_seen_at, "
    "phone = coalesce(EXCLUDED.phone, lead.phone), "
    "first_touch = coalesce(lead.first_touch, EXCLUDED.first_touch), "
    "account_id = coalesce(EXCLUDED.account_id, lead.account_id) "
    "RETURNING match_key, id, account_id, "
    "(SELECT a.owner_id FROM ingest.account AS a WHERE a.id = lead.account_id) AS owner_id, first_touch), "
    # In lead id order, so concurrent batches lock keys in one order.
    "issued AS (INSERT INTO ingest.lead_key (lead_id, key, created_at) SELECT r.id, person.lk, :at "
    "FROM resolved AS r JOIN person ON person.k = r.match_key WHERE person.lk IS NOT NULL ORDER BY r.id "
    "ON CONFLICT (lead_id) DO NOTHING RETURNING lead_id, key), "
    "staged AS (INSERT INTO ingest.outbox (event_id, event_type, topic, key, value, headers, created_at) "
    "SELECT gen_random_uuid(), :key_topic, :key_topic, CAST(lead_id AS varchar), key, "
    "CAST(:key_headers AS jsonb), :at FROM issued ORDER BY lead_id RETURNING id, event_id, key) "
    # `kept` reads the statement's snapshot: the keys the leads had before it.
    "SELECT r.match_key, r.id, r.account_id, r.owner_id, r.first_touch, coalesce(i.key, kept.key), "
    "s.id, s.event_id FROM resolved AS r LEFT JOIN issued AS i ON i.lead_id = r.id "
    "LEFT JOIN ingest.lead_key AS kept ON kept.lead_id = r.id "
    "LEFT JOIN staged AS s ON s.key = CAST(r.id AS varchar)"
)
# The outbox rows' ids come back for the relay of this process to publish from memory.
_SUBMISSIONS_WITH_EVENTS = (
    "WITH stored AS (INSERT INTO ingest.submission (id, lead_id, form_id, source, event_id, "
    "idempotency_key, request_hash, fields, touch, received_at) SELECT gen_random_uuid(), l, f, src, ev, ik, "
    "rh, CAST(j AS jsonb), CAST(tc AS jsonb), ra FROM unnest(CAST(:s_leads AS uuid[]), "
    "CAST(:s_forms AS varchar[]), CAST(:s_sources AS varchar[]), CAST(:s_events AS uuid[]), "
    "CAST(:s_keys AS varchar[]), CAST(:s_hashes AS varchar[]), CAST(:s_fields AS text[]), "
    "CAST(:s_touches AS text[]), CAST(:s_received AS timestamptz[])) AS n(l, f, src, ev, ik, rh, j, tc, ra) "
    "ON CONFLICT (idempotency_key) DO NOTHING RETURNING event_id), staged AS ("
    + insert_sql(outbox)
    + " WHERE e IN (SELECT event_id FROM stored) RETURNING id, event_id) "
    "SELECT s.event_id, o.id FROM stored AS s LEFT JOIN staged AS o ON o.event_id = s.event_id"
)
# Sorted keys, so concurrent batches lock the same leads in the same order (no deadlock).
_RESOLVE_LEADS = text(
    "INSERT INTO ingest.lead AS lead (id, email, match_key, first_seen_at, last_seen_at) "
    "SELECT gen_random_uuid(), e, k, :at, :at "
    "FROM unnest(CAST(:emails AS varchar[]), CAST(:keys AS varchar[])) AS u(e, k) "
    "ON CONFLICT (match_key) DO UPDATE SET last_seen_at = EXCLUDED.last_seen_at "
    "RETURNING match_key, id"
)


class SubmissionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def by_idempotency_key(self, key: str) -> Submission | None:
        result = await self.session.execute(select(Submission).where(Submission.idempotency_key == key))
        return result.scalar_one_or_none()

    async def by_idempotency_keys(self, keys: Sequence[str]) -> dict[str, Submission]:
        if not keys:
            return {}
        # `= ANY` of one array: `IN` would prepare a statement for every number of keys.
        taken = Submission.idempotency_key == any_(bindparam("keys", list(keys), ARRAY(String)))
        rows = await self.session.scalars(select(Submission).where(taken))
        return {row.idempotency_key: row for row in rows if row.idempotency_key is not None}

    async def add_many_with_events(
        self, rows: Sequence[NewSubmission], staged: Mapping[str, Sequence[Any]]
    ) -> dict[uuid.UUID, int | None]:
        """Insert the submissions and stage the outbox rows `staged` (`shared.outbox.outbox_columns`
        of their events) in one statement; returns the event ids of the submissions stored, each
        with its outbox row's id (None: a submission recorded without an event). A submission
        whose idempotency key a concurrent request took is neither stored nor staged."""
        if not rows:
            return {}
        params = {
            "s_leads": [r.lead_id for r in rows],
            "s_forms": [r.form_id for r in rows],
            "s_sources": [r.source for r in rows],
            "s_events": [r.event_id for r in rows],
            "s_keys": [r.idempotency_key for r in rows],
            "s_hashes": [r.request_hash for r in rows],
            "s_fields": [json.dumps(r.fields) for r in rows],
            "s_touches": [r.touch for r in rows],
            "s_received": [r.received_at for r in rows],
            **staged,
        }
        return {row[0]: row[1] for row in await fetch(self.session, _SUBMISSIONS_WITH_EVENTS, params)}

    async def forget_fields(self, lead_id: uuid.UUID) -> None:
        """Erasure: keep that a submission happened (counts), drop what was submitted."""
        await self.session.execute(
            update(Submission)
            .where(Submission.lead_id == lead_id)
            .values(fields={})
            .execution_options(synchronize_session=False)
        )


class FormRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, form_id: str) -> Form | None:
        return await self.session.get(Form, form_id)

    async def all(self) -> Sequence[Form]:
        return (await self.session.scalars(select(Form).order_by(Form.id))).all()

    async def delete(self, form: Form) -> None:
        await self.session.delete(form)
        await self.session.flush()

    async def upsert(self, values: dict[str, Any], *, now: datetime) -> Form:
        statement = insert(Form).values(**values, created_at=now, updated_at=now)
        upsert = statement.on_conflict_do_update(
            index_elements=[Form.id], set_={**values, "updated_at": now}
        ).returning(Form)
        result = await self.session.execute(upsert, execution_options={"populate_existing": True})
        form: Form = result.scalar_one()
        return form


class SourceRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, source: Source) -> bool:
        """False when the id is taken."""
        statement = (
            insert(Source)
            .values(
                id=source.id,
                name=source.name,
                key_hash=source.key_hash,
                key_prefix=source.key_prefix,
                form_ids=source.form_ids,
                rate_limit_per_minute=source.rate_limit_per_minute,
                created_at=source.created_at,
            )
            .on_conflict_do_nothing(index_elements=[Source.id])
            .returning(Source.id)
        )
        return (await self.session.execute(statement)).scalar_one_or_none() is not None

    async def get(self, source_id: str) -> Source | None:
        return await self.session.get(Source, source_id)

    async def by_key_hash(self, key_hash: str) -> Source | None:
        statement = select(Source).where(Source.key_hash == key_hash, Source.revoked_at.is_(None))
        return (await self.session.scalars(statement)).first()

    async def all(self) -> Sequence[Source]:
        return (await self.session.scalars(select(Source).order_by(Source.id))).all()

    async def revoke(self, source_id: str, *, at: datetime) -> Source | None:
        source = await self.get(source_id)
        if source is not None and source.revoked_at is None:
            source.revoked_at = at
            await self.session.flush()
        return source


class AccountRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def upsert(self, *, domain: str, name: str, owner_id: uuid.UUID | None, now: datetime) -> Account:
        statement = insert(Account).values(
            id=uuid.uuid4(), domain=domain, name=name, owner_id=owner_id, created_at=now, updated_at=now
        )
        upsert = statement.on_conflict_do_update(
            index_elements=[Account.domain], set_={"name": name, "owner_id": owner_id, "updated_at": now}
        ).returning(Account)
        result = await self.session.execute(upsert, execution_options={"populate_existing": True})
        account: Account = result.scalar_one()
        return account

    async def by_domain(self, domain: str) -> Account | None:
        return (await self.session.scalars(select(Account).where(Account.domain == domain))).first()

    async def all(self) -> Sequence[Account]:
        return (await self.session.scalars(select(Account).order_by(Account.domain))).all()
