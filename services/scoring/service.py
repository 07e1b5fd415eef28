"""Scoring's use cases. No transport here: the caller owns the session and its transaction."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from services.scoring.backtest import BacktestReport, LeadHistory, backtest
from services.scoring.errors import LeadNotScored
from services.scoring.evaluation import Activity, Evaluation, Profile, explain_score
from services.scoring.lead_repository import (
    PROFILE_FIELDS,
    ActivityRecord,
    ActivityRepository,
    ProfileRecord,
    ProfileRepository,
)
from services.scoring.models import LeadProfile, Score, outbox
from services.scoring.records import (
    ROUTING_FIELDS,
    QualifiedProfile,
    qualified_event,
    score_row,
    scored_event,
)
from services.scoring.repository import DispositionRepository, ScoreRepository, ShadowScoreRepository
from services.scoring.rubric import Rubric
from services.scoring.schemas import ScoredLead, ScoreHistory, ScoreHistoryEntry, ScoreRead
from shared.contracts import (
    ActivityRecorded,
    Envelope,
    FiredRule,
    LeadDispositioned,
    LeadErased,
    LeadIngested,
    LeadIngestedPayload,
    utc_now,
)
from shared.outbox import add_events


async def erase_lead(session: AsyncSession, *, event: LeadErased) -> None:
    """Honour an erasure: the person's identity goes, the anonymous numbers stay."""
    await ProfileRepository(session).erase_personal_data(event.lead_id)


async def score_lead(
    session: AsyncSession, *, rubric: Rubric, event: LeadIngested, shadows: Sequence[Rubric] = ()
) -> Evaluation | None:
    """Fold an ingested submission into the lead's profile and activities, score the lead as of
    the event's time, and stage `lead.scored` (and `lead.qualified` the first time it qualifies).

    Drafts in `shadows` score the same inputs; their results are stored, never published.
    Returns None when this event's activity was already recorded: its effects are in place.
    """
    payload = event.payload
    now = event.occurred_at
    profile = await ProfileRepository(session).merge(
        event.lead_id, observed_at=now, now=utc_now(), fields=profile_fields(payload)
    )
    activities = ActivityRepository(session)
    recorded = await activities.add_once(
        lead_id=event.lead_id,
        event_id=event.event_id,
        type="form_submission",
        # A source clock ahead of ours must not hide the activity from its own evaluation.
        occurred_at=min(payload.submitted_at, now),
        properties=activity_properties(payload),
    )
    if not recorded:
        return None
    evaluation = await _evaluate(session, rubric, profile, event, shadows)
    await record_evaluation(
        session,
        profile,
        evaluation,
        caused_by=event,
        source=payload.source,
        form_id=payload.form_id,
        persona=rubric.persona_for(to_profile(profile)),
        requalify_after=cooldown(rubric),
    )
    return evaluation


async def score_activity(
    session: AsyncSession, *, rubric: Rubric, event: ActivityRecorded, shadows: Sequence[Rubric] = ()
) -> Evaluation | None:
    """Record a lead's activity (live, or stitched from its anonymous past) and re-score the lead
    as of the event's time. Returns None when the activity was already recorded."""
    payload = event.payload
    now = event.occurred_at
    profile = await ProfileRepository(session).merge(
        event.lead_id, observed_at=now, now=utc_now(), fields={"email": payload.email}
    )
    recorded = await ActivityRepository(session).add_once(
        lead_id=event.lead_id,
        event_id=event.event_id,
        type=payload.activity_type,
        occurred_at=min(payload.occurred_at, now),
        properties=payload.properties,
    )
    if not recorded:
        return None
    evaluation = await _evaluate(session, rubric, profile, event, shadows)
    await record_evaluation(
        session,
        profile,
        evaluation,
        caused_by=event,
        source=profile.source,
        form_id=None,
        persona=rubric.persona_for(to_profile(profile)),
        requalify_after=cooldown(rubric),
    )
    return evaluation


async def _evaluate(
    session: AsyncSession,
    rubric: Rubric,
    profile: ProfileRecord,
    event: Envelope,
    shadows: Sequence[Rubric],
) -> Evaluation:
    now = event.occurred_at
    history = [to_activity(a) for a in await ActivityRepository(session).for_lead(event.lead_id, until=now)]
    lead = to_profile(profile)
    evaluation = rubric.evaluate(lead, history, now=now)
    await record_shadow_scores(session, shadows, event=event, lead=lead, history=history)
    return evaluation


async def record_shadow_scores(
    session: AsyncSession,
    shadows: Sequence[Rubric],
    *,
    event: Envelope,
    lead: Profile,
    history: Sequence[Activity],
) -> None:
    """Store what each shadow rubric would have scored for the event, as of the event's time."""
    now = event.occurred_at
    for shadow in shadows:
        would = shadow.evaluate(lead, history, now=now)
        await ShadowScoreRepository(session).add(
            rubric_version=shadow.version,
            lead_id=event.lead_id,
            event_id=event.event_id,
            score=would.score,
            grade=would.grade,
            is_mql=would.is_mql,
            scored_at=now,
        )


async def record_evaluation(
    session: AsyncSession,
    profile: QualifiedProfile,
    evaluation: Evaluation,
    *,
    caused_by: Envelope | None,
    source: str | None,
    form_id: str | None,
    persona: str | None = None,
    requalify_after: timedelta | None = None,
) -> bool:
    """Store the score, stage `lead.scored`, and stage `lead.qualified` if this is the lead's
    first qualification ever, or (given the cool-down `requalify_after`) a re-MQL of a lead back
    in nurture at least that long. Returns whether the lead qualified just now."""
    lead_id, now = profile.lead_id, evaluation.evaluated_at
    await ScoreRepository(session).add_many([score_row(lead_id, evaluation, caused_by=caused_by)])
    events: list[Envelope] = [scored_event(lead_id, evaluation, caused_by=caused_by, persona=persona)]
    reason = evaluation.qualification_reason
    profiles = ProfileRepository(session)
    qualified = reason is not None and await profiles.mark_qualified(
        lead_id, at=now, reason=reason, rubric_version=evaluation.rubric_version
    )
    round_: int | None = 1 if qualified else None
    if reason is not None and not qualified and caused_by is not None and requalify_after is not None:
        # New engagement (this event) after the cool-down qualifies a lead back from nurture.
        round_ = await profiles.mark_requalified(
            lead_id,
            at=now,
            reason=reason,
            rubric_version=evaluation.rubric_version,
            cooled_down_by=now - requalify_after,
        )
    if round_ is not None:
        events.append(
            qualified_event(
                profile,
                evaluation,
                caused_by=caused_by,
                source=source,
                form_id=form_id,
                persona=persona,
                round_=round_,
            )
        )
    await add_events(session, outbox, events)
    return round_ is not None


async def record_disposition(session: AsyncSession, *, event: LeadDispositioned) -> None:
    """Keep sales' verdict on a lead, so backtests can measure a rubric against outcomes; a lead
    recycled or rejected as unresponsive returns to nurture, with the reason."""
    payload = event.payload
    await DispositionRepository(session).add_once(
        lead_id=event.lead_id,
        event_id=event.event_id,
        outcome=payload.outcome,
        dispositioned_at=payload.dispositioned_at,
    )
    if payload.outcome == "recycled" or (
        payload.outcome == "rejected" and payload.reason_code == "unresponsive"
    ):
        reason = payload.reason or payload.reason_code or payload.outcome
        await ProfileRepository(session).return_to_nurture(
            event.lead_id, at=payload.dispositioned_at, reason=reason[:200]
        )


def cooldown(rubric: Rubric) -> timedelta:
    """How long a lead handed back waits in nurture before new engagement may qualify it again."""
    return timedelta(days=rubric.nurture.recycle_cooldown_days)


async def get_score(session: AsyncSession, *, lead_id: uuid.UUID) -> ScoreRead:
    """The lead's latest score with its explanation."""
    score = await ScoreRepository(session).latest(lead_id)
    profile = await ProfileRepository(session).get(lead_id)
    if score is None or profile is None:
        raise LeadNotScored(f"no score for lead {lead_id}")
    fired = _fired(score)
    return ScoreRead(
        lead_id=lead_id,
        rubric_version=score.rubric_version,
        score=score.score,
        fit_score=score.fit_score,
        engagement_score=score.engagement_score,
        grade=score.grade,
        is_mql=score.is_mql,
        qualified_at=profile.qualified_at,
        qualification_reason=profile.qualification_reason,
        scored_at=score.scored_at,
        fired_rules=fired,
        explanation=explain_score(
            score=score.score,
            fit_score=score.fit_score,
            engagement_score=score.engagement_score,
            grade=score.grade,
            rubric_version=score.rubric_version,
            is_mql=score.is_mql,
            fired_rules=fired,
        ),
        lead=await _scored_lead(session, profile),
    )


async def _scored_lead(session: AsyncSession, profile: LeadProfile) -> ScoredLead:
    fields = {name: getattr(profile, name) for name in ScoredLead.model_fields if name != "submitted_at"}
    submitted_at = await ActivityRepository(session).latest_submission_at(profile.lead_id)
    return ScoredLead.model_validate({**fields, "submitted_at": submitted_at})


async def get_current_score(
    session: AsyncSession, *, rubric: Rubric, lead_id: uuid.UUID, now: datetime
) -> ScoreRead:
    """The lead's score re-evaluated as of `now` with the active rubric, so engagement shows
    the decay since the last event. Nothing is stored or published."""
    profile = await ProfileRepository(session).get(lead_id)
    if profile is None:
        raise LeadNotScored(f"no score for lead {lead_id}")
    history = await ActivityRepository(session).for_lead(lead_id, until=now)
    evaluation = rubric.evaluate(to_profile(profile), [to_activity(a) for a in history], now=now)
    return ScoreRead(
        lead_id=lead_id,
        rubric_version=evaluation.rubric_version,
        score=evaluation.score,
        fit_score=evaluation.fit_score,
        engagement_score=evaluation.engagement_score,
        grade=evaluation.grade,
        is_mql=evaluation.is_mql or profile.qualified_at is not None,
        qualified_at=profile.qualified_at,
        qualification_reason=profile.qualification_reason,
        scored_at=now,
        fired_rules=evaluation.fired_rules,
        explanation=evaluation.explain(),
        lead=await _scored_lead(session, profile),
    )


async def get_score_history(session: AsyncSession, *, lead_id: uuid.UUID, limit: int) -> ScoreHistory:
    """How the lead's score moved, oldest first, with the rules that started or stopped firing."""
    scores = await ScoreRepository(session).history(lead_id, limit=limit)
    if not scores:
        raise LeadNotScored(f"no score for lead {lead_id}")
    entries: list[ScoreHistoryEntry] = []
    previous: Score | None = None
    for score in scores:
        fired = _fired(score)
        before = {r.rule_id for r in _fired(previous)} if previous else set()
        now = {r.rule_id for r in fired}
        entries.append(
            ScoreHistoryEntry(
                rubric_version=score.rubric_version,
                score=score.score,
                change=round(score.score - previous.score, 2) if previous else 0.0,
                fit_score=score.fit_score,
                engagement_score=score.engagement_score,
                grade=score.grade,
                is_mql=score.is_mql,
                scored_at=score.scored_at,
                event_id=score.event_id,
                rules_added=sorted(now - before),
                rules_removed=sorted(before - now),
                fired_rules=fired,
            )
        )
        previous = score
    return ScoreHistory(lead_id=lead_id, scores=entries)


async def backtest_draft(
    session: AsyncSession, *, active: Rubric, draft: Rubric, max_leads: int, batch_size: int = 500
) -> BacktestReport:
    """Replay up to `max_leads` known leads through the active rubric and the draft."""
    profiles = ProfileRepository(session)
    activities = ActivityRepository(session)
    histories: list[LeadHistory] = []
    after: uuid.UUID | None = None
    while len(histories) < max_leads:
        page = await profiles.page(after=after, limit=min(batch_size, max_leads - len(histories)))
        if not page:
            break
        lead_ids = [p.lead_id for p in page]
        by_lead: dict[uuid.UUID, list[Activity]] = defaultdict(list)
        for row in await activities.for_leads(lead_ids):
            by_lead[row.lead_id].append(to_activity(row))
        outcomes = await DispositionRepository(session).outcomes_for(lead_ids)
        histories.extend(
            LeadHistory(p.lead_id, to_profile(p), by_lead[p.lead_id], frozenset(outcomes.get(p.lead_id, ())))
            for p in page
        )
        after = page[-1].lead_id
    return backtest(active, draft, histories)


def activity_properties(payload: LeadIngestedPayload) -> dict[str, str]:
    """A submission seen as an activity: its form, source and campaign tags."""
    properties = {"source": payload.source, **{f"utm.{k}": v for k, v in payload.utm.items()}}
    if payload.form_id:
        properties["form_id"] = payload.form_id
    if payload.is_hand_raiser:
        properties["hand_raiser"] = "true"
    return properties


def to_profile(row: LeadProfile | ProfileRecord) -> Profile:
    return Profile.model_validate(row, from_attributes=True)


def to_activity(row: ActivityRecord) -> Activity:
    return Activity(type=row.type, occurred_at=row.occurred_at, properties=row.properties)


def profile_fields(payload: LeadIngestedPayload) -> dict[str, object]:
    """The submission's profile fields; routing's fields ride along in the attributes."""
    fields = _scored_fields(payload)
    routing = {name: str(getattr(payload, name)) for name in ROUTING_FIELDS if getattr(payload, name)}
    if routing:
        fields["attributes"] = {**payload.attributes, **routing}
    return fields


def _scored_fields(payload: LeadIngestedPayload) -> dict[str, object]:
    return payload.model_dump(include={*PROFILE_FIELDS, "utm", "attributes"})


def _fired(score: Score) -> list[FiredRule]:
    return [FiredRule.model_validate(r) for r in score.fired_rules]
