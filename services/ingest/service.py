"""Ingest's use cases for forms, leads and sources. No transport here: the caller owns the
session and its transaction; these only stage rows and events in it."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from services.ingest.activity_repository import ActivityRepository, VisitorRepository
from services.ingest.cache import FormCache, SourceKey, SourceKeyCache, hash_api_key, uncached
from services.ingest.errors import (
    FormNotFound,
    LeadNotFound,
    OriginNotAllowed,
    SourceExists,
    SourceNotFound,
    WebhookPayloadInvalid,
)
from services.ingest.identity import match_key
from services.ingest.intake import Accepted, PreparedSubmission
from services.ingest.models import Source, audit, outbox
from services.ingest.normalize import map_fields, request_hash, to_ingested_payload
from services.ingest.protection import HONEYPOT_TRIPPED, honeypot_tripped, origin_allowed
from services.ingest.repository import (
    AccountRepository,
    FormRepository,
    LeadRepository,
    SourceRepository,
    SubmissionRepository,
)
from services.ingest.schemas import (
    AccountCreate,
    AccountRead,
    FormCreate,
    FormRead,
    FormSubmissionCreate,
    SourceCreate,
    SourceCreated,
    SourceRead,
    SubmissionAccepted,
)
from services.ingest.sealing import shred_key
from shared.audit import record_change
from shared.contracts import LeadErased, LeadErasedPayload, new_event_id, utc_now
from shared.outbox import add_event
from shared.problems import Problem

PRODUCER = "ingest"
RETURN_URL_FIELD = "retURL"
API_KEY_PREFIX = "bk_"


class Intake(Protocol):
    """Where every source's prepared submissions are stored, with the one intake use case
    (`intake.accept_submissions`) in a transaction of its own: the group-committing writer
    (`worker.py`)."""

    async def find_form(self, form_id: str) -> FormRead: ...

    async def accepted_before(self, keys: Sequence[str]) -> dict[str, SubmissionAccepted]: ...

    async def submit(self, prepared: PreparedSubmission) -> Accepted: ...

    async def submit_all(self, group: Sequence[PreparedSubmission]) -> list[Accepted]: ...

    async def submit_each(self, submissions: Sequence[PreparedSubmission]) -> list[Accepted | Problem]: ...

    async def quarantine(
        self, *, source: str, body: bytes, params: Mapping[str, str], problem: WebhookPayloadInvalid
    ) -> uuid.UUID: ...


async def save_form(
    session: AsyncSession, *, form: FormCreate, actor: str, cache: FormCache | None = None
) -> FormRead:
    """Create or replace a form's configuration."""
    forms = FormRepository(session)
    existing = await forms.get(form.id)
    # Read before the upsert: it repopulates the same object in the session.
    before = None if existing is None else FormRead.model_validate(existing).model_dump(mode="json")
    saved = FormRead.model_validate(await forms.upsert(form.model_dump(), now=utc_now()))
    await record_change(
        session,
        audit,
        actor=actor,
        action="form.created" if before is None else "form.updated",
        object_type="form",
        object_id=form.id,
        before=before,
        after=saved.model_dump(mode="json"),
    )
    if cache is not None:
        cache.forget(form.id)
    return saved


async def delete_form(
    session: AsyncSession, *, form_id: str, actor: str, cache: FormCache | None = None
) -> None:
    """Remove a form's configuration: its submissions are refused from now on (404); the leads
    and submissions it brought stay."""
    forms = FormRepository(session)
    existing = await forms.get(form_id)
    if existing is None:
        raise FormNotFound(f"no form {form_id!r}")
    before = FormRead.model_validate(existing).model_dump(mode="json")
    await forms.delete(existing)
    await record_change(
        session,
        audit,
        actor=actor,
        action="form.deleted",
        object_type="form",
        object_id=form_id,
        before=before,
    )
    if cache is not None:
        cache.forget(form_id)


async def list_forms(session: AsyncSession) -> list[FormRead]:
    return [FormRead.model_validate(f) for f in await FormRepository(session).all()]


async def find_form(session: AsyncSession, *, form_id: str, forms: FormCache | None = None) -> FormRead:
    """The form's configuration (from `forms` when cached), or 404. (`GET /v1/forms/{id}` reads
    it uncached.)"""
    form = await (forms or uncached()).get(session, form_id)
    if form is None:
        raise FormNotFound(f"no form {form_id!r}; configure it with POST /v1/forms")
    return form


def prepare_submission(
    form: FormRead,
    *,
    fields: dict[str, Any],
    idempotency_key: str | None,
    origin: str | None = None,
    referer: str | None = None,
    check_origin: bool = True,
) -> PreparedSubmission | SubmissionAccepted:
    """Everything about a fill of `form` that needs no database: where it was posted from, its
    fields mapped and validated into the `lead.ingested` payload. Raises pydantic's
    `ValidationError` for invalid fields.

    `check_origin` is False for a server posting with a form-scoped API key. A filled honeypot
    gets its answer here, indistinguishable from success, and nothing is written.
    """
    if check_origin and not origin_allowed(form.allowed_origins, origin, referer):
        raise OriginNotAllowed(f"form {form.id!r} does not accept posts from {origin or 'an unknown origin'}")
    if honeypot_tripped(form.honeypot_field, fields):
        HONEYPOT_TRIPPED.labels(form.id).inc()
        return SubmissionAccepted(lead_id=uuid.uuid4(), event_id=new_event_id())
    fields = {k: v for k, v in fields.items() if k != form.honeypot_field}
    submission = FormSubmissionCreate.model_validate(
        map_fields(fields, form.field_map, form.utm_fields, form.value_transforms)
    )
    stored = submission.model_dump(mode="json", exclude_none=True)
    payload = to_ingested_payload(
        form.id, submission, submitted_at=utc_now(), is_hand_raiser=form.is_hand_raiser
    )
    return PreparedSubmission(payload, idempotency_key, request_hash(form.id, stored), stored)


@dataclass(frozen=True)
class FormAnswer:
    """A form post's answer, and where to send the browser that posted it (None: answer JSON)."""

    accepted: SubmissionAccepted
    redirect_to: str | None = None


def return_url(form: FormRead, posted: object) -> str | None:
    """Where a browser goes after posting `form`: the post's own `retURL` when the form allows it
    (and, when the form names its origins, it points at one of them: never an open redirect),
    else the form's success URL."""
    if (
        form.allow_return_url
        and isinstance(posted, str)
        and posted.startswith(("https://", "http://"))
        and origin_allowed(form.allowed_origins, None, posted)
    ):
        return posted
    return form.success_url


async def submit_form(
    intake: Intake,
    *,
    form_id: str,
    fields: dict[str, Any],
    idempotency_key: str | None,
    origin: str | None = None,
    referer: str | None = None,
    check_origin: bool = True,
    browser: bool = False,
) -> FormAnswer:
    """Accept a fill of a configured form: `prepare_submission`, then the one intake use case
    (`intake.accept_submissions`) through `intake`, which owns the transaction. The same
    idempotency key with the same body returns the first answer; with another body it is refused.
    Raises pydantic's `ValidationError` for invalid fields.

    `browser`: a browser's own form post, answered with a redirect where the form has somewhere
    to send it (`return_url`). Salesforce Web-to-Lead's control field `retURL` is never kept as
    lead data."""
    form = await intake.find_form(form_id)
    posted_return = fields.pop(RETURN_URL_FIELD, None)
    redirect_to = return_url(form, posted_return) if browser else None
    prepared = prepare_submission(
        form,
        fields=fields,
        idempotency_key=idempotency_key,
        origin=origin,
        referer=referer,
        check_origin=check_origin,
    )
    if isinstance(prepared, SubmissionAccepted):
        return FormAnswer(prepared, redirect_to)
    return FormAnswer((await intake.submit(prepared)).answer, redirect_to)


async def erase_lead(
    session: AsyncSession, *, lead_id: uuid.UUID, reason: str, actor: str | None = None
) -> None:
    """Remove a lead's personal data (email, submitted fields, visitor links, activity details),
    keep the anonymous counts, and stage `lead.erased` so every service does the same."""
    now = utc_now()
    if await LeadRepository(session).get(lead_id) is None:
        raise LeadNotFound(f"no lead {lead_id}")
    if not await LeadRepository(session).erase(lead_id, at=now):
        return
    await SubmissionRepository(session).forget_fields(lead_id)
    await VisitorRepository(session).unlink_lead(lead_id)
    await ActivityRepository(session).forget_for_lead(lead_id)
    await shred_key(session, lead_id)
    if actor is not None:  # a manual erasure; the lead is named by its id only
        await record_change(
            session, audit, actor=actor, action="lead.erased", object_type="lead", object_id=str(lead_id)
        )
    await add_event(
        session,
        outbox,
        LeadErased.new(
            lead_id=lead_id, payload=LeadErasedPayload(reason=reason, erased_at=now), producer=PRODUCER
        ),
    )


async def erase_by_email(session: AsyncSession, *, email: str, actor: str | None = None) -> uuid.UUID:
    """Erase the lead this address belongs to (any spelling of the same inbox)."""
    lead_id = await LeadRepository(session).id_by_match_key(match_key(email))
    if lead_id is None:
        raise LeadNotFound("no lead has this email")
    await erase_lead(session, lead_id=lead_id, reason="request", actor=actor)
    return lead_id


async def save_account(session: AsyncSession, *, account: AccountCreate, actor: str) -> AccountRead:
    """Create or update the account of a company domain. Leads already ingested from the domain
    attach on their next submission; new leads attach at once."""
    accounts = AccountRepository(session)
    existing = await accounts.by_domain(account.domain)
    before = None if existing is None else AccountRead.model_validate(existing).model_dump(mode="json")
    saved = AccountRead.model_validate(
        await accounts.upsert(
            domain=account.domain, name=account.name, owner_id=account.owner_id, now=utc_now()
        )
    )
    await record_change(
        session,
        audit,
        actor=actor,
        action="account.created" if before is None else "account.updated",
        object_type="account",
        object_id=str(saved.id),
        before=before,
        after=saved.model_dump(mode="json"),
    )
    return saved


async def list_accounts(session: AsyncSession) -> list[AccountRead]:
    return [AccountRead.model_validate(a) for a in await AccountRepository(session).all()]


async def create_source(session: AsyncSession, *, source: SourceCreate, actor: str) -> SourceCreated:
    """Register a source and mint its API key; only the key's hash is kept."""
    api_key = API_KEY_PREFIX + secrets.token_urlsafe(32)
    row = Source(
        id=source.id,
        name=source.name,
        key_hash=hash_api_key(api_key),
        key_prefix=api_key[:10],
        form_ids=source.form_ids,
        rate_limit_per_minute=source.rate_limit_per_minute,
        created_at=utc_now(),
        revoked_at=None,
    )
    if not await SourceRepository(session).add(row):
        raise SourceExists(f"source {source.id!r} exists; revoke it or pick another id")
    created = SourceRead.model_validate(row)
    await record_change(  # the key's prefix only: the key itself is shown once and never kept
        session,
        audit,
        actor=actor,
        action="source.created",
        object_type="source",
        object_id=source.id,
        after=created.model_dump(mode="json"),
    )
    return SourceCreated(**created.model_dump(), api_key=api_key)


async def list_sources(session: AsyncSession) -> Sequence[SourceRead]:
    return [SourceRead.model_validate(s) for s in await SourceRepository(session).all()]


async def revoke_source(
    session: AsyncSession, *, source_id: str, actor: str, keys: SourceKeyCache | None = None
) -> SourceRead:
    """Revoke the source's key: refused from now on by this replica, within the key cache's
    lifetime by the others."""
    sources = SourceRepository(session)
    existing = await sources.get(source_id)
    if existing is None:
        raise SourceNotFound(f"no source {source_id!r}")
    before = SourceRead.model_validate(existing).model_dump(mode="json")
    source = await sources.revoke(source_id, at=utc_now())
    assert source is not None
    if before["revoked_at"] is None:  # revoking a revoked key again changes nothing
        await record_change(
            session,
            audit,
            actor=actor,
            action="source.revoked",
            object_type="source",
            object_id=source_id,
            before=before,
            after=SourceRead.model_validate(source).model_dump(mode="json"),
        )
    if keys is not None:
        keys.forget(source_id)
    return SourceRead.model_validate(source)


async def source_for_key(
    session: AsyncSession, *, api_key: str, keys: SourceKeyCache | None = None
) -> SourceKey | None:
    """What this API key may do, if it belongs to a live source."""
    return await (keys or SourceKeyCache(ttl_s=0)).get(session, api_key)
