"""The agreement's lifecycle: drafts, one approval from each team, activation and re-scoring.

Marketing and sales both sign a rubric before it scores anything: a draft becomes active only
with an approval from a marketing approver and one from a sales approver, and editing a draft
withdraws both. Activation retires the previous rubric and starts re-scoring every known lead
(`RescoreRun`, worked in batches by `services.scoring.worker`).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncSession

from services.scoring import service
from services.scoring.backtest import RubricDiff, diff_rubrics
from services.scoring.errors import (
    RubricNotApproved,
    RubricNotDraft,
    RubricVersionExists,
    RubricVersionMismatch,
    RubricVersionNotFound,
)
from services.scoring.evaluation import Evaluation
from services.scoring.lead_repository import ActivityRecord, ActivityRepository, ProfileRepository
from services.scoring.models import RescoreRun, RubricApproval, RubricRecord, Score, audit, outbox
from services.scoring.records import PRODUCER
from services.scoring.repository import (
    RescoreRepository,
    RubricRepository,
    ScoreRepository,
    ShadowScoreRepository,
)
from services.scoring.rubric import Rubric
from services.scoring.rubric_plan import Plan, PlanDerivation
from services.scoring.schemas import ApprovalRead, RescoreProgress, RubricVersionRead, ShadowReport
from shared.audit import record_change
from shared.contracts import NO_LEAD, RubricActivated, RubricActivatedPayload, utc_now
from shared.outbox import add_event

Team = Literal["marketing", "sales"]
TEAMS: tuple[Team, ...] = ("marketing", "sales")


# Where `ActiveRubric.in_force` keeps its answer for the rest of the session's transaction.
_IN_FORCE = "scoring.rubrics_in_force"


class ActiveRubric:
    """The rubric scoring uses now: the active version in the database or, before any
    activation, the rubric file the service was configured with. Parsed documents are cached
    by (version, updated_at), so a lookup costs one small query and an edited draft is re-read."""

    def __init__(self, configured: Rubric) -> None:
        self.configured = configured
        self._parsed: dict[tuple[str, datetime], Rubric] = {}

    async def current(self, session: AsyncSession) -> Rubric:
        stamp = await RubricRepository(session).active_stamp()
        if stamp is None:
            return self.configured
        return self._parsed.get(stamp) or await self.version(session, stamp[0])

    async def in_force(self, session: AsyncSession) -> tuple[Rubric, list[Rubric]]:
        """The active rubric and the shadows, looked up once per transaction: a consumer batch
        scores all its events with the rubrics in force when it began, as one event would be."""
        transaction = session.get_transaction()
        cached = session.info.get(_IN_FORCE)
        if cached is not None and transaction is not None and cached[0] is transaction:
            return cached[1], cached[2]
        # The shadows: drafts scored on live traffic, never published.
        active, shadow_stamps = await RubricRepository(session).in_force_stamps()
        rubric = self.configured if active is None else await self._by_stamp(session, active)
        shadows = [await self._by_stamp(session, stamp) for stamp in shadow_stamps]
        session.info[_IN_FORCE] = (transaction, rubric, shadows)
        return rubric, shadows

    async def _by_stamp(self, session: AsyncSession, stamp: tuple[str, datetime]) -> Rubric:
        return self._parsed.get(stamp) or await self.version(session, stamp[0])

    async def version(self, session: AsyncSession, version: str) -> Rubric:
        if version == self.configured.version:
            return self.configured
        record = await RubricRepository(session).get(version)
        if record is None:
            raise RubricVersionNotFound(f"no rubric version {version!r}")
        key = (record.version, record.updated_at)
        rubric = self._parsed.get(key)
        if rubric is None:
            rubric = self._parsed[key] = Rubric.from_document(record.document)
        return rubric


async def create_draft(
    session: AsyncSession, *, draft: Rubric, author: str, active: ActiveRubric
) -> RubricVersionRead:
    """Store a new draft. Versions are never reused, so a score's version names one document."""
    rubrics = RubricRepository(session)
    if draft.version == active.configured.version or await rubrics.get(draft.version) is not None:
        raise RubricVersionExists(f"rubric version {draft.version!r} already exists; choose a new version")
    now = utc_now()
    record = RubricRecord(
        version=draft.version,
        status="draft",
        document=draft.model_dump(mode="json"),
        created_by=author,
        created_at=now,
        updated_at=now,
    )
    await rubrics.add(record)
    await record_change(
        session,
        audit,
        actor=author,
        action="rubric.drafted",
        object_type="rubric",
        object_id=draft.version,
        after={"status": "draft", "document": record.document},
    )
    return _read(record, [], include_document=True)


async def update_draft(
    session: AsyncSession, *, version: str, draft: Rubric, actor: str
) -> RubricVersionRead:
    """Replace a draft's document; approvals given to the old text are withdrawn."""
    rubrics = RubricRepository(session)
    record = await _draft_for_update(rubrics, version)
    if draft.version != version:
        raise RubricVersionMismatch(f"the document's version {draft.version!r} must be {version!r}")
    withdrawn = _approved_by((await rubrics.approvals([version]))[version])
    await record_change(
        session,
        audit,
        actor=actor,
        action="rubric.edited",
        object_type="rubric",
        object_id=version,
        before={"document": record.document, "approved_by": withdrawn},
        after={"document": draft.model_dump(mode="json"), "approved_by": {}},
    )
    record.document = draft.model_dump(mode="json")
    record.updated_at = utc_now()
    await rubrics.clear_approvals(version)
    await session.flush()
    return _read(record, [], include_document=True)


async def approve(session: AsyncSession, *, version: str, team: Team, approver: str) -> RubricVersionRead:
    rubrics = RubricRepository(session)
    record = await _draft_for_update(rubrics, version)
    before = _approved_by((await rubrics.approvals([version]))[version])
    await rubrics.approve(version, team=team, approver=approver, at=utc_now())
    approvals = (await rubrics.approvals([version]))[version]
    await record_change(
        session,
        audit,
        actor=approver,
        action="rubric.approved",
        object_type="rubric",
        object_id=version,
        before={"approved_by": before},
        after={"approved_by": _approved_by(approvals)},
    )
    return _read(record, approvals, include_document=False)


async def activate(session: AsyncSession, *, version: str, actor: str) -> RubricVersionRead:
    """Make an approved draft the active rubric and start re-scoring every known lead."""
    rubrics = RubricRepository(session)
    record = await _draft_for_update(rubrics, version)
    approvals = (await rubrics.approvals([version]))[version]
    missing = _missing(approvals)
    if missing:
        raise RubricNotApproved(
            f"rubric {version!r} needs approval from {' and '.join(missing)} before it can be activated; "
            "marketing and sales must both sign it",
            missing_approvals=missing,
        )
    now = utc_now()
    previous = await rubrics.active_stamp()
    await rubrics.retire_active(at=now)
    record.status, record.activated_at, record.updated_at = "active", now, now
    await session.flush()
    await record_change(
        session,
        audit,
        actor=actor,
        action="rubric.activated",
        object_type="rubric",
        object_id=version,
        before={"status": "draft", "active_version": previous[0] if previous else None},
        after={"status": "active", "active_version": version, "approved_by": _approved_by(approvals)},
    )
    await add_event(
        session,
        outbox,
        RubricActivated.new(
            lead_id=NO_LEAD,
            producer=PRODUCER,
            payload=RubricActivatedPayload(
                rubric_version=version,
                previous_version=previous[0] if previous else None,
                approved_by={approval.team: approval.approver for approval in approvals},
                activated_at=now,
                agreement=Rubric.from_document(record.document).terms(),
            ),
        ),
    )
    runs = RescoreRepository(session)
    await runs.supersede_running(at=now)
    run = RescoreRun(
        id=uuid.uuid4(),
        rubric_version=version,
        reason="activation",
        status="running",
        total=await ProfileRepository(session).count(),
        done=0,
        newly_qualified=0,
        started_at=now,
    )
    await runs.add(run)
    read = _read(record, approvals, include_document=False)
    read.rescore = _progress(run)
    return read


async def set_shadow(session: AsyncSession, *, version: str, enabled: bool, actor: str) -> RubricVersionRead:
    """Start or stop scoring live traffic with a draft, alongside the active rubric."""
    rubrics = RubricRepository(session)
    record = await _draft_for_update(rubrics, version)
    if record.shadow != enabled:
        await record_change(
            session,
            audit,
            actor=actor,
            action="rubric.shadow_started" if enabled else "rubric.shadow_stopped",
            object_type="rubric",
            object_id=version,
            before={"shadow": record.shadow},
            after={"shadow": enabled},
        )
    record.shadow = enabled
    await session.flush()
    return _read(record, (await rubrics.approvals([version]))[version], include_document=False)


async def shadow_report(session: AsyncSession, *, version: str) -> ShadowReport:
    """How the draft's would-be MQLs compare with the leads that really qualified."""
    record = await RubricRepository(session).get(version)
    if record is None:
        raise RubricVersionNotFound(f"no rubric version {version!r}")
    leads, would, did, both = await ShadowScoreRepository(session).summary(version)
    return ShadowReport(
        rubric_version=version,
        shadowing=record.shadow and record.status == "draft",
        leads_scored=leads,
        would_qualify=would,
        qualified=did,
        both=both,
        only_shadow=would - both,
        only_active=did - both,
    )


async def list_versions(session: AsyncSession) -> list[RubricVersionRead]:
    rubrics = RubricRepository(session)
    records = await rubrics.all()
    approvals = await rubrics.approvals([r.version for r in records])
    return [_read(r, approvals[r.version], include_document=False) for r in records]


async def get_version(session: AsyncSession, *, version: str) -> RubricVersionRead:
    rubrics = RubricRepository(session)
    record = await rubrics.get(version)
    if record is None:
        raise RubricVersionNotFound(f"no rubric version {version!r}")
    read = _read(record, (await rubrics.approvals([version]))[version], include_document=True)
    run = await RescoreRepository(session).latest_for(version)
    read.rescore = _progress(run) if run else None
    return read


async def diff_versions(
    session: AsyncSession, *, version: str, against: str | None, active: ActiveRubric
) -> RubricDiff:
    """How `version` differs from `against` (by default, the active rubric)."""
    base = await (active.version(session, against) if against else active.current(session))
    return diff_rubrics(base, await active.version(session, version))


async def start_decay_pass(
    session: AsyncSession, *, active: ActiveRubric, every: timedelta, now: datetime
) -> bool:
    """Start re-scoring every lead with the active rubric if the last pass is `every` old, so
    stored scores (and the reports fed by `lead.scored`) follow engagement decay."""
    runs = RescoreRepository(session)
    last = await runs.last_started(reason="decay")
    if last is not None and now - last < every:
        return False
    rubric = await active.current(session)
    return await runs.add_if_idle(
        id=uuid.uuid4(),
        rubric_version=rubric.version,
        reason="decay",
        status="running",
        total=await ProfileRepository(session).count(),
        done=0,
        newly_qualified=0,
        started_at=now,
    )


async def rescore_batch(session: AsyncSession, *, active: ActiveRubric, batch_size: int) -> int:
    """Re-score the next batch of the oldest running re-score run; returns leads re-scored.

    Leads that were already MQLs keep their qualification and get no second `lead.qualified`;
    leads that qualify only under the new rubric are qualified (and routed) now.
    """
    runs = RescoreRepository(session)
    run = await runs.claim_running()
    if run is None:
        return 0
    rubric = await active.version(session, run.rubric_version)
    profiles = await ProfileRepository(session).page(after=run.cursor, limit=batch_size)
    now = utc_now()
    by_lead: dict[uuid.UUID, list[ActivityRecord]] = defaultdict(list)
    for row in await ActivityRepository(session).for_leads([p.lead_id for p in profiles]):
        by_lead[row.lead_id].append(row)
    latest = await ScoreRepository(session).latest_for_leads([p.lead_id for p in profiles])
    for profile in profiles:
        history = by_lead[profile.lead_id]
        evaluation = rubric.evaluate(
            service.to_profile(profile), [service.to_activity(a) for a in history], now=now
        )
        if run.reason == "decay" and _unchanged(latest.get(profile.lead_id), evaluation):
            continue
        latest_form = next((a.properties.get("form_id") for a in reversed(history)), None)
        if await service.record_evaluation(
            session,
            profile,
            evaluation,
            caused_by=None,
            source=profile.source,
            form_id=latest_form,
            persona=rubric.persona_for(service.to_profile(profile)),
        ):
            run.newly_qualified += 1
    run.done += len(profiles)
    if profiles:
        run.cursor = profiles[-1].lead_id
    if len(profiles) < batch_size:
        run.status, run.finished_at = "finished", now
    await session.flush()
    return len(profiles)


async def _draft_for_update(rubrics: RubricRepository, version: str) -> RubricRecord:
    record = await rubrics.get(version, for_update=True)
    if record is None:
        raise RubricVersionNotFound(f"no rubric version {version!r}")
    if record.status != "draft":
        raise RubricNotDraft(f"rubric {version!r} is {record.status}; only drafts can change")
    return record


def _unchanged(previous: Score | None, evaluation: Evaluation) -> bool:
    # A decay pass only records scores that moved, so it does not flood `lead.scored`.
    return previous is not None and (
        previous.rubric_version,
        previous.score,
        previous.grade,
        previous.is_mql,
    ) == (evaluation.rubric_version, evaluation.score, evaluation.grade, evaluation.is_mql)


def _approved_by(approvals: list[RubricApproval]) -> dict[str, str]:
    return {approval.team: approval.approver for approval in approvals}


def _missing(approvals: list[RubricApproval]) -> list[str]:
    return [team for team in TEAMS if team not in {a.team for a in approvals}]


def _progress(run: RescoreRun) -> RescoreProgress:
    return RescoreProgress.model_validate(run, from_attributes=True)


def _read(
    record: RubricRecord, approvals: list[RubricApproval], *, include_document: bool
) -> RubricVersionRead:
    return RubricVersionRead(
        version=record.version,
        status=record.status,
        created_by=record.created_by,
        created_at=record.created_at,
        updated_at=record.updated_at,
        activated_at=record.activated_at,
        approvals=[ApprovalRead.model_validate(a, from_attributes=True) for a in approvals],
        missing_approvals=_missing(approvals) if record.status == "draft" else [],
        document=record.document if include_document else None,
        shadow=record.shadow,
        plan=_derived_plan(record.document),
    )


def _derived_plan(document: dict[str, Any]) -> PlanDerivation | None:
    """Marketing's commitment as derived from the version's goal and planning rates; stored
    documents were validated when written, so this only re-reads one section."""
    plan = document.get("plan")
    return Plan.model_validate(plan).derive() if plan else None
