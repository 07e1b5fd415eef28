"""Scoring a consumer's batch at once: the same effect as `service.score_lead` and
`service.score_activity` applied to each event in turn, in a handful of statements per round
instead of several per event.

A round holds at most one event per lead (`rounds_by_lead`: a lead's next event waits for the
next round), so every event is scored on exactly the profile and history it would have seen
on its own.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from operator import attrgetter
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.scoring.evaluation import Activity, Profile
from services.scoring.lead_cache import LeadHistories, LeadHistory
from services.scoring.lead_repository import ActivityRepository, ProfileRecord, ProfileRepository
from services.scoring.models import outbox
from services.scoring.records import qualified_event, score_row
from services.scoring.repository import ScoreRepository
from services.scoring.rubric import Rubric
from services.scoring.service import (
    activity_properties,
    cooldown,
    profile_fields,
    record_shadow_scores,
    to_activity,
)
from services.scoring.staging import RoundOutbox
from shared.contracts import ActivityRecorded, LeadIngested, utc_now
from shared.contracts.rounds import rounds_by_lead
from shared.db import after_commit
from shared.outbox import announce, remember

ScoredEvent = LeadIngested | ActivityRecorded


@dataclass(frozen=True)
class _Observation:
    """What one event contributes: profile fields, one activity, where it came from."""

    event: ScoredEvent
    fields: dict[str, Any]
    activity: dict[str, Any]
    form_id: str | None

    @classmethod
    def of(cls, event: ScoredEvent) -> _Observation:
        now = event.occurred_at
        if isinstance(event, LeadIngested):
            p = event.payload
            # A source clock ahead of ours must not hide the activity from its own evaluation.
            activity = {"type": "form_submission", "occurred_at": min(p.submitted_at, now)}
            activity["properties"] = activity_properties(p)
            return cls(event, profile_fields(p), activity, p.form_id)
        a = event.payload
        activity = {
            "type": a.activity_type,
            "occurred_at": min(a.occurred_at, now),
            "properties": a.properties,
        }
        return cls(event, {"email": a.email}, activity, None)


async def score_events(
    session: AsyncSession,
    *,
    rubric: Rubric,
    events: Sequence[ScoredEvent],
    shadows: Sequence[Rubric] = (),
    cache: LeadHistories | None = None,
) -> None:
    """Record and score `events` (in order per lead), staging their `lead.scored` and
    first-time `lead.qualified` events. Events whose activity is already recorded are skipped.

    `cache`: the consumer's lead histories; a lead found there reads only its rows added since,
    and the histories this batch leaves are put there once its transaction commits."""
    # Each lead's activities as read or recorded so far, and the id of its latest row read: a
    # lead's next round reads only what was added after it (the profile row lock, held to the
    # commit, keeps them true within the batch).
    histories: dict[uuid.UUID, LeadHistory] = {}
    if cache is not None:
        for lead_id in {event.lead_id for event in events}:
            cached = cache.get(lead_id)
            if cached is not None:
                histories[lead_id] = cached
    for round_ in rounds_by_lead(events):
        await _score_round(session, rubric, shadows, [_Observation.of(event) for event in round_], histories)
    if cache is not None and histories:
        after_commit(session, partial(cache.put_many, histories))


async def _score_round(
    session: AsyncSession,
    rubric: Rubric,
    shadows: Sequence[Rubric],
    observations: list[_Observation],
    histories: dict[uuid.UUID, LeadHistory],
) -> None:
    # One clock reading for the round's rows and events: they are written in one statement.
    written_at = utc_now()
    profiles = await ProfileRepository(session).merge_many(
        [(o.event.lead_id, o.event.occurred_at, o.fields) for o in observations], now=written_at
    )
    recorded, rows_read, last_ids = await ActivityRepository(session).add_many_with_histories(
        [{"lead_id": o.event.lead_id, "event_id": o.event.event_id, **o.activity} for o in observations],
        known={
            o.event.lead_id: histories[o.event.lead_id].last_id
            for o in observations
            if o.event.lead_id in histories
        },
    )
    todo = [o for o in observations if o.event.event_id in recorded]
    if not todo:
        return
    read: dict[uuid.UUID, list[Activity]] = defaultdict(list)
    for row in rows_read:
        read[row.lead_id].append(to_activity(row))
    for lead_id, activities in read.items():
        known = histories.get(lead_id)
        if known is not None:
            # Stable: a new activity at the same time as an earlier one comes after it, as its id does.
            merged = sorted(known.activities + activities, key=lambda a: a.occurred_at)
            histories[lead_id] = LeadHistory(merged, max(known.last_id, last_ids[lead_id]))
        else:
            histories[lead_id] = LeadHistory(activities, last_ids[lead_id])
    rows: list[dict[str, Any]] = []
    staged = RoundOutbox(session)
    scored_index: list[int] = []
    qualifications: list[dict[str, Any]] = []
    for o in todo:
        event, now = o.event, o.event.occurred_at
        profile = profiles[event.lead_id]
        lead = profile_of(profile)
        history = _until(histories[event.lead_id].activities, now)
        evaluation = rubric.evaluate(lead, history, now=now)
        await record_shadow_scores(session, shadows, event=event, lead=lead, history=history)
        rows.append(
            score_row(event.lead_id, evaluation, caused_by=event, fired_rules=False, created_at=written_at)
        )
        persona = rubric.persona_for(lead)
        scored_index.append(
            staged.add_scored(event.lead_id, evaluation, caused_by=event, persona=persona, at=written_at)
        )
        reason = evaluation.qualification_reason
        # The upsert above locked the profile and returned it current: qualified_at is the truth.
        if reason is not None and profile.qualified_at is None:
            qualifications.append(
                {
                    "lead_id": event.lead_id,
                    "at": now,
                    "reason": reason,
                    "rubric_version": evaluation.rubric_version,
                }
            )
            source = event.payload.source if isinstance(event, LeadIngested) else profile.source
            staged.add(
                qualified_event(
                    profile, evaluation, caused_by=event, source=source, form_id=o.form_id, persona=persona
                )
            )
        elif reason is not None and _cooled_down(profile.returned_to_nurture_at, now - cooldown(rubric)):
            # Back from nurture long enough: this new engagement qualifies the lead again (rare,
            # so one statement per lead).
            round_ = await ProfileRepository(session).mark_requalified(
                event.lead_id,
                at=now,
                reason=reason,
                rubric_version=evaluation.rubric_version,
                cooled_down_by=now - cooldown(rubric),
            )
            if round_ is not None:
                source = event.payload.source if isinstance(event, LeadIngested) else profile.source
                staged.add(
                    qualified_event(
                        profile,
                        evaluation,
                        caused_by=event,
                        source=source,
                        form_id=o.form_id,
                        persona=persona,
                        round_=round_,
                    )
                )
    columns = staged.columns
    returned = await ScoreRepository(session).add_round(
        rows, qualifications=qualifications, staged=columns, scored_index=scored_index
    )
    remember(session, outbox, columns, returned)
    await announce(session, outbox, remembered=True)


def _cooled_down(returned_at: datetime | None, by: datetime) -> bool:
    return returned_at is not None and returned_at <= by


def _until(history: list[Activity], now: datetime) -> list[Activity]:
    # In time order, and mostly the lead's latest event: nothing after `now` to leave out.
    if not history or history[-1].occurred_at <= now:
        return history
    return [a for a in history if a.occurred_at <= now]


_PROFILE_NAMES = tuple(Profile.model_fields)
_profile_values = attrgetter(*_PROFILE_NAMES)
_FIELDS_SET = frozenset(_PROFILE_NAMES)


def profile_of(row: ProfileRecord) -> Profile:
    """`to_profile` of a merge's row, without validating it: its columns already hold the
    profile's types, and the consumer builds one per event. What `model_construct` does, minus
    its per-field defaults loop (every field is given)."""
    profile = object.__new__(Profile)
    object.__setattr__(profile, "__dict__", dict(zip(_PROFILE_NAMES, _profile_values(row), strict=True)))
    object.__setattr__(profile, "__pydantic_fields_set__", set(_FIELDS_SET))
    object.__setattr__(profile, "__pydantic_extra__", None)
    object.__setattr__(profile, "__pydantic_private__", None)
    return profile
