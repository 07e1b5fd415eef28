"""The lead brief: a read model of why a lead qualified, what it answered and what it did, kept
from scoring's and ingest's events, and shown with its assignment, in the rep's queue and in
every notice. A lead the rep holds that shows high intent again tells the rep (`hot_again`).
Transport-free."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy.ext.asyncio import AsyncSession

from services.routing import commitments, hot_again
from services.routing.access import Actor, check_may_act
from services.routing.assignment import qualification_of
from services.routing.brief_repository import BriefRepository, KeptScore
from services.routing.brief_schemas import LeadBriefRead
from services.routing.brief_view import brief_read
from services.routing.errors import LeadNotAssigned
from services.routing.models import Assignment
from services.routing.notification_repository import NotificationRepository
from services.routing.rep_notices import notice_rows
from services.routing.repository import AssignmentRepository, RepRepository
from services.routing.schemas import AssignmentRead
from shared.contracts import ActivityRecorded, LeadIngested, LeadScored, utc_now

# The form fields a rep reads as the lead's answers (besides the form's own `attributes`).
ANSWER_FIELDS = (
    "email",
    "first_name",
    "last_name",
    "company",
    "job_title",
    "phone",
    "country",
    "state",
    "company_size",
    "industry",
    "language",
    "product_interest",
)


async def record_score(session: AsyncSession, *, event: LeadScored, hot_score_jump: float) -> None:
    """Keep the lead's newest score explanation; tell its rep when the score jumped."""
    await record_scores(session, events=[event], hot_score_jump=hot_score_jump)


async def record_scores(
    session: AsyncSession, *, events: Sequence[LeadScored], hot_score_jump: float
) -> None:
    """`record_score` for a consumer batch, in order: the kept scores are read (and locked) in one
    statement and each lead's newest written in one more; only a score that replaced another can
    make a lead hot again, and only those read the agreement and the holder."""
    briefs = BriefRepository(session)
    kept = await briefs.scores_for_update({event.lead_id for event in events})
    newest: dict[uuid.UUID, dict[str, Any]] = {}
    jumps: list[tuple[LeadScored, float]] = []
    now = utc_now()
    for event in events:
        payload, current = event.payload, kept.get(event.lead_id)
        if current is not None and current.scored_at is not None and current.scored_at > event.occurred_at:
            continue  # older than the explanation kept: it changes nothing
        kept[event.lead_id] = KeptScore(payload.score, event.occurred_at)
        newest[event.lead_id] = {
            "lead_id": event.lead_id,
            "score": payload.score,
            "grade": payload.grade,
            "rubric_version": payload.rubric_version,
            "fired_rules": [
                {"rule_id": r.rule_id, "kind": r.kind, "points": r.points, "reason": r.reason}
                for r in payload.fired_rules
            ],
            "scored_at": event.occurred_at,
            "updated_at": now,
        }
        if current is not None and current.score is not None:
            jumps.append((event, current.score))
    await briefs.upsert_scores(list(newest.values()))
    if not jumps:
        return
    terms = await commitments.terms_in_force(session)
    threshold = terms.hot_again_score_jump if terms and terms.hot_again_score_jump else hot_score_jump
    await _tell_holders(
        session,
        [
            HotMoment(
                event.lead_id,
                event.occurred_at,
                hot_again.score_jump_reason(previous, event.payload.score, threshold=threshold),
            )
            for event, previous in jumps
        ],
    )


async def record_form(session: AsyncSession, *, event: LeadIngested) -> None:
    """Keep the form's answers and the fill on the timeline; a hand-raiser form from a lead a
    rep holds tells the rep."""
    await record_forms(session, events=[event])


async def record_forms(session: AsyncSession, *, events: Sequence[LeadIngested]) -> None:
    """`record_form` for a consumer batch: each lead's answers merged in order (a later form's
    answer wins) and written in one statement, the fills stored in one more."""
    answers: dict[uuid.UUID, dict[str, Any]] = {}
    for event in events:
        answers.setdefault(event.lead_id, {}).update(_answers(event))
    briefs = BriefRepository(session)
    await briefs.merge_answers_of(answers, now=utc_now())
    added = await briefs.add_activities([_form_row(event) for event in events])
    moments = [
        HotMoment(
            event.lead_id,
            event.payload.submitted_at,
            hot_again.form_reason(is_hand_raiser=event.payload.is_hand_raiser, form_id=event.payload.form_id),
        )
        for event in events
        if event.event_id in added
    ]
    await _tell_holders(session, moments)


def _answers(event: LeadIngested) -> dict[str, Any]:
    payload = event.payload
    answers: dict[str, Any] = {
        name: value for name in ANSWER_FIELDS if (value := getattr(payload, name)) is not None
    }
    answers.update(payload.attributes)
    return answers


def _form_row(event: LeadIngested) -> dict[str, Any]:
    payload = event.payload
    return {
        "event_id": event.event_id,
        "lead_id": event.lead_id,
        "activity_type": "form_submission",
        "occurred_at": payload.submitted_at,
        "subject": payload.form_id or payload.source,
        "campaign": payload.utm.get("campaign"),
        "properties": {f"utm.{k}": v for k, v in payload.utm.items()},
    }


async def record_activity(session: AsyncSession, *, event: ActivityRecorded) -> None:
    """Put the activity on the lead's timeline; a pricing-page visit of a lead a rep holds tells
    the rep."""
    await record_activities(session, events=[event])


async def record_activities(session: AsyncSession, *, events: Sequence[ActivityRecorded]) -> None:
    """`record_activity` for a consumer batch: one statement stores them all (activities are
    routing's busiest input), then each new high-intent one tells its rep, in order."""
    added = await BriefRepository(session).add_activities([_activity_row(event) for event in events])
    fresh = [event for event in events if event.event_id in added and not event.payload.stitched]
    if not fresh:
        return
    terms = await commitments.terms_in_force(session)
    pages = terms.hot_again_pages if terms and terms.hot_again_pages is not None else hot_again.DEFAULT_PAGES
    raised = terms.hand_raiser_activities if terms else []
    moments = [
        HotMoment(
            event.lead_id,
            event.payload.occurred_at,
            hot_again.activity_reason(
                event.payload.activity_type,
                event.payload.properties,
                pages=pages,
                hand_raiser_activities=raised,
            ),
        )
        for event in fresh
    ]
    await _tell_holders(session, moments)


def _activity_row(event: ActivityRecorded) -> dict[str, object]:
    payload = event.payload
    properties = payload.properties
    return {
        "event_id": event.event_id,
        "lead_id": event.lead_id,
        "activity_type": payload.activity_type,
        "occurred_at": payload.occurred_at,
        "subject": properties.get("page_path")
        or properties.get("name")
        or properties.get("form_id")
        or properties.get("url"),
        "campaign": properties.get("utm.campaign") or properties.get("campaign"),
        "properties": properties,
    }


class HotMoment(NamedTuple):
    lead_id: uuid.UUID
    happened_at: datetime
    reason: str | None


async def _tell_holders(session: AsyncSession, moments: Sequence[HotMoment]) -> None:
    """Tell each moment's rep, in order, when a rep held the lead before it happened: the
    assignments and reps of a whole batch are read in two statements, and only for the moments
    that are hot at all."""
    hot = [moment for moment in moments if moment.reason is not None]
    if not hot:
        return
    assignments = await AssignmentRepository(session).by_leads({moment.lead_id for moment in hot})
    held = [
        (moment, assignment)
        for moment in hot
        if (assignment := assignments.get(moment.lead_id)) is not None
        and hot_again.is_held_since(assignment, moment.happened_at)
    ]
    reps = await RepRepository(session).by_ids({assignment.rep_id for _, assignment in held}) if held else {}
    rows = []
    for moment, assignment in held:
        rep = reps.get(assignment.rep_id)
        if rep is None:
            continue
        rows += notice_rows(
            rep,
            kind="hot_again",
            at=utc_now(),
            assignment_id=assignment.id,
            lead_id=moment.lead_id,
            lead=assignment.lead,
            qualification=qualification_of(assignment),
            sla_due_at=assignment.sla_due_at,
            hot=moment.reason,
        )
    await NotificationRepository(session).add_all(rows)


# ---- reading ------------------------------------------------------------------------------------


async def get_brief(session: AsyncSession, *, lead_id: uuid.UUID, actor: Actor) -> LeadBriefRead:
    """The lead's brief. A rep reads only the leads they hold, a team-bound manager their team's."""
    assignment = await AssignmentRepository(session).by_lead(lead_id)
    if assignment is None:
        raise LeadNotAssigned(f"lead {lead_id} is not assigned", queued=False)
    await check_may_act(session, holder=assignment.rep_id, actor=actor)
    return (await briefs_of(session, [assignment]))[assignment.lead_id]


async def my_queue(session: AsyncSession, *, actor: Actor, statuses: Sequence[str]) -> list[AssignmentRead]:
    """The caller's work, most urgent SLA first, each with its brief: a rep's own assignments, a
    manager's team's (every rep's for a manager bound to no team)."""
    assignments = AssignmentRepository(session)
    if actor.rep_id is not None:
        rows = await assignments.for_rep(actor.rep_id, statuses=statuses)
    else:
        rows = await assignments.for_team(actor.manager_id, statuses=statuses)
    return await with_briefs(session, rows)


async def with_briefs(session: AsyncSession, assignments: Sequence[Assignment]) -> list[AssignmentRead]:
    """The assignments as the API answers them, each with its lead's brief."""
    briefs = await briefs_of(session, assignments)
    return [
        AssignmentRead.model_validate(a).model_copy(update={"brief": briefs[a.lead_id]}) for a in assignments
    ]


async def briefs_of(
    session: AsyncSession, assignments: Sequence[Assignment]
) -> dict[uuid.UUID, LeadBriefRead]:
    lead_ids = [a.lead_id for a in assignments]
    repository = BriefRepository(session)
    kept, timelines = await repository.briefs(lead_ids), await repository.timelines(lead_ids)
    return {
        a.lead_id: brief_read(
            a.lead_id, kept.get(a.lead_id), timelines.get(a.lead_id, []), qualification=qualification_of(a)
        )
        for a in assignments
    }
