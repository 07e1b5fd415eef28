"""Folding events into `lead_fact`, and the reports read from it, on the real database."""

from __future__ import annotations

import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from services.feedback import service
from services.feedback.funnel import Stage
from services.feedback.models import LeadFact, LeadTouchpoint
from services.feedback.repository import FactFilter
from shared.contracts import (
    AnyEvent,
    LeadAssigned,
    LeadAssignedPayload,
    LeadDispositioned,
    LeadDispositionedPayload,
    LeadErased,
    LeadErasedPayload,
    LeadIngested,
    LeadIngestedPayload,
    LeadQualified,
    LeadQualifiedPayload,
    LeadScored,
    LeadScoredPayload,
    LeadSnapshot,
    Outcome,
)
from shared.db import Database

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


@dataclass
class Journey:
    """Builds the events of one lead's journey, as the other services would emit them."""

    lead_id: uuid.UUID = field(default_factory=uuid.uuid4)
    assignment_id: uuid.UUID = field(default_factory=uuid.uuid4)
    rep_id: uuid.UUID = field(default_factory=uuid.uuid4)

    def ingested(
        self,
        at: datetime,
        *,
        source: str = "form",
        form_id: str = "demo-request",
        campaign: str | None = None,
    ) -> LeadIngested:
        payload = LeadIngestedPayload(
            source=source,
            form_id=form_id,
            email=f"{self.lead_id}@example.com",
            utm={"campaign": campaign, "source": "google"} if campaign else {},
            submitted_at=at,
        )
        return LeadIngested.new(lead_id=self.lead_id, payload=payload, producer="ingest", occurred_at=at)

    def scored(
        self, at: datetime, *, score: float = 80, grade: str = "A", rubric: str = "v1", is_mql: bool = True
    ) -> LeadScored:
        payload = LeadScoredPayload(
            rubric_version=rubric,
            score=score,
            fit_score=score / 2,
            engagement_score=score / 2,
            grade=grade,
            is_mql=is_mql,
        )
        return LeadScored.new(lead_id=self.lead_id, payload=payload, producer="scoring", occurred_at=at)

    def qualified(
        self, at: datetime, *, grade: str = "A", rubric: str = "v1", tier: str = "hot"
    ) -> LeadQualified:
        payload = LeadQualifiedPayload(
            rubric_version=rubric,
            score=80,
            grade=grade,
            reason="threshold",
            sla_tier=tier,
            sla_minutes=15,
            qualified_at=at,
            lead=LeadSnapshot(email=f"{self.lead_id}@example.com"),
        )
        return LeadQualified.new(lead_id=self.lead_id, payload=payload, producer="scoring", occurred_at=at)

    def assigned(
        self, at: datetime, *, tier: str = "hot", sla: timedelta = timedelta(minutes=15)
    ) -> LeadAssigned:
        payload = LeadAssignedPayload(
            assignment_id=self.assignment_id,
            rep_id=self.rep_id,
            rep_name="Rep",
            strategy="round_robin",
            sla_tier=tier,
            sla_due_at=at + sla,
            assigned_at=at,
            qualified_at=at,
        )
        return LeadAssigned.new(lead_id=self.lead_id, payload=payload, producer="routing", occurred_at=at)

    def dispositioned(
        self, at: datetime, outcome: Outcome, *, reason: str | None = None, amount: Decimal | None = None
    ) -> LeadDispositioned:
        payload = LeadDispositionedPayload(
            assignment_id=self.assignment_id,
            rep_id=self.rep_id,
            outcome=outcome,
            reason=reason,
            amount=amount,
            dispositioned_at=at,
        )
        return LeadDispositioned.new(
            lead_id=self.lead_id, payload=payload, producer="routing", occurred_at=at
        )

    def won_path(self, start: datetime, *, amount: Decimal = Decimal("1200.00")) -> list[AnyEvent]:
        return [
            self.ingested(start, campaign="spring"),
            self.scored(start + timedelta(seconds=1)),
            self.qualified(start + timedelta(seconds=1)),
            self.assigned(start + timedelta(seconds=2)),
            self.dispositioned(start + timedelta(minutes=5), "accepted"),
            self.dispositioned(start + timedelta(days=2), "sql"),
            self.dispositioned(start + timedelta(days=20), "won", amount=amount),
        ]


HANDLERS = {
    "lead.ingested": service.record_ingested,
    "lead.scored": service.record_scored,
    "lead.qualified": service.record_qualified,
    "lead.assigned": service.record_assigned,
    "lead.dispositioned": service.record_dispositioned,
}


async def apply(db: Database, events: Sequence[AnyEvent]) -> None:
    """Each event in its own transaction, as the consumer wrapper would."""
    for event in events:
        async with db.transaction() as session:
            await HANDLERS[event.event_type](session, event)  # type: ignore[operator]


async def fact_row(db: Database, lead_id: uuid.UUID) -> dict[str, Any]:
    async with db.transaction() as session:
        row = (await session.execute(select(LeadFact.__table__).where(LeadFact.lead_id == lead_id))).one()
    values = row._asdict()
    del values["lead_id"]
    return values


def for_lead(events: Sequence[AnyEvent], lead_id: uuid.UUID) -> list[AnyEvent]:
    return [e.model_copy(update={"lead_id": lead_id}) for e in events]


async def touchpoints(db: Database, lead_id: uuid.UUID) -> list[tuple[Any, ...]]:
    async with db.transaction() as session:
        rows = (
            await session.execute(
                select(LeadTouchpoint.__table__)
                .where(LeadTouchpoint.lead_id == lead_id)
                .order_by(LeadTouchpoint.touch_key)
            )
        ).all()
    return [tuple(v for k, v in row._asdict().items() if k not in ("id", "lead_id")) for row in rows]


def story(journeys: Sequence[Journey]) -> list[AnyEvent]:
    """Several leads' events interleaved, with ties a first-value rule must break by arrival
    (two ingestions at one instant from different sources) and stages arriving out of order."""
    first, second, third = journeys
    return [
        *first.won_path(T0),
        second.ingested(T0, source="linkedin", form_id="webinar"),
        first.ingested(T0, source="google-ads", form_id="ebook", campaign="autumn"),
        second.ingested(T0, source="form", form_id="demo-request"),
        third.dispositioned(T0 + timedelta(hours=3), "rejected", reason="no budget"),
        second.scored(T0 + timedelta(hours=1), score=40, grade="C", is_mql=False),
        third.assigned(T0 + timedelta(hours=1)),
        second.scored(T0 + timedelta(hours=1), score=60, grade="B"),
        third.ingested(T0, campaign="spring"),
        first.dispositioned(T0 + timedelta(days=1), "accepted"),
    ]


def by_type(events: Sequence[AnyEvent]) -> dict[str, list[AnyEvent]]:
    """A consumer batch holds one topic's events, so one event type, in arrival order."""
    grouped: dict[str, list[AnyEvent]] = {}
    for event in events:
        grouped.setdefault(event.event_type, []).append(event)
    return grouped


def by_topic(events: Sequence[AnyEvent]) -> list[AnyEvent]:
    return [event for group in by_type(events).values() for event in group]


class TestRecordBatch:
    async def test_a_batch_folds_as_its_events_one_by_one(self, db: Database) -> None:
        alone, together = [Journey() for _ in range(3)], [Journey() for _ in range(3)]
        await apply(db, by_topic(story(alone)))
        async with db.transaction() as session:
            for events in by_type(story(together)).values():
                event_type = events[0].event_type
                await service.record_batch(session, events, record=HANDLERS[event_type])  # type: ignore[arg-type]

        for one, batched in zip(alone, together, strict=True):
            expected = await fact_row(db, one.lead_id)
            got = await fact_row(db, batched.lead_id)
            for key in ("assignment_id", "rep_id"):
                assert (expected.pop(key) is None) == (got.pop(key) is None)
            assert got == expected
            assert await touchpoints(db, batched.lead_id) == await touchpoints(db, one.lead_id)
        assert (await fact_row(db, together[1].lead_id))["source"] == "linkedin"  # the tie: first wins


class TestRecordEvents:
    async def test_events_in_any_order_build_the_same_row(self, db: Database) -> None:
        journey = Journey()
        events: list[AnyEvent] = [
            *journey.won_path(T0),
            journey.ingested(T0 + timedelta(days=1), source="linkedin", form_id="webinar"),
            journey.scored(T0 + timedelta(hours=1), score=95, grade="A+", rubric="v2"),
            journey.dispositioned(T0 + timedelta(days=3), "sql"),
        ]
        rng = random.Random(7)
        rows = []
        for _ in range(8):
            shuffled = for_lead(events, uuid.uuid4())
            rng.shuffle(shuffled)
            await apply(db, shuffled)
            rows.append(await fact_row(db, shuffled[0].lead_id))
        assert all(row == rows[0] for row in rows)

        row = rows[0]
        assert row["ingested_at"] == T0
        assert (row["source"], row["form_id"], row["campaign"]) == ("form", "demo-request", "spring")
        assert (row["score"], row["grade"], row["rubric_version"]) == (95, "A+", "v2")
        assert (row["mql_grade"], row["mql_rubric_version"]) == ("A", "v1")
        assert row["mql_at"] == T0 + timedelta(seconds=1)
        assert row["first_touch_at"] == row["accepted_at"] == T0 + timedelta(minutes=5)
        assert row["sql_at"] == T0 + timedelta(days=2)
        assert row["sla_met"] is True
        assert row["amount"] == Decimal("1200.00")
        assert row["rep_id"] == journey.rep_id

    async def test_replaying_every_event_changes_nothing(self, db: Database) -> None:
        journey = Journey()
        events = journey.won_path(T0)
        await apply(db, events)
        before = await fact_row(db, journey.lead_id)
        await apply(db, list(reversed(events)))
        assert await fact_row(db, journey.lead_id) == before

    async def test_a_lead_recycled_to_nurture_records_the_stage_and_its_first_touch(
        self, db: Database
    ) -> None:
        journey = Journey()
        start = T0 + timedelta(days=1)
        await apply(
            db,
            [
                journey.ingested(start, campaign="spring"),
                journey.assigned(start + timedelta(minutes=1)),
                journey.dispositioned(start + timedelta(hours=3), "recycled", reason="timing"),
            ],
        )
        row = await fact_row(db, journey.lead_id)
        assert row["recycled_at"] == row["first_touch_at"] == start + timedelta(hours=3)
        assert row["accepted_at"] is None

    async def test_the_profile_is_kept_for_rule_discovery_without_names_email_or_phone(
        self, db: Database
    ) -> None:
        journey = Journey()
        event = journey.ingested(T0)
        payload = event.payload.model_copy(
            update={
                "first_name": "Ada",
                "phone": "+44 20 7946 0000",
                "job_title": "Head of RevOps",
                "industry": "manufacturing",
                "company_size": 750,
                "attributes": {"team_size": "11-50"},
            }
        )
        await apply(db, [event.model_copy(update={"payload": payload})])
        assert (await fact_row(db, journey.lead_id))["profile"] == {
            "source": "form",
            "job_title": "Head of RevOps",
            "industry": "manufacturing",
            "company_size": 750,
            "email_domain": "example.com",
            "attributes.team_size": "11-50",
        }

        erased = LeadErased.new(
            lead_id=journey.lead_id,
            producer="ingest",
            payload=LeadErasedPayload(reason="request", erased_at=T0),
        )
        async with db.transaction() as session:
            await service.forget_person(session, erased)
        assert (await fact_row(db, journey.lead_id))["profile"] == {
            "source": "form",
            "job_title": "Head of RevOps",
            "industry": "manufacturing",
            "company_size": 750,
        }

    async def test_first_rejection_reason_is_kept(self, db: Database) -> None:
        journey = Journey()
        await apply(
            db,
            [
                journey.dispositioned(T0 + timedelta(hours=2), "rejected", reason="duplicate"),
                journey.dispositioned(T0 + timedelta(hours=1), "rejected", reason="no budget"),
            ],
        )
        row = await fact_row(db, journey.lead_id)
        assert (row["rejected_at"], row["reject_reason"]) == (T0 + timedelta(hours=1), "no budget")
        assert row["ingested_at"] is None


async def scripted_history(db: Database) -> dict[str, Journey]:
    """Five leads whose every report number is known by hand."""
    won, rejected, lost, late, fresh = (Journey() for _ in range(5))
    await apply(db, won.won_path(T0))
    await apply(
        db,
        [
            rejected.ingested(T0, source="linkedin"),
            rejected.qualified(T0 + timedelta(seconds=3), tier="warm", rubric="v2"),
            rejected.assigned(T0 + timedelta(seconds=4), tier="warm", sla=timedelta(hours=4)),
            rejected.dispositioned(T0 + timedelta(hours=1), "rejected", reason="no budget"),
            lost.ingested(T0 + timedelta(days=1)),
            lost.qualified(T0 + timedelta(days=1, seconds=1)),
            lost.assigned(T0 + timedelta(days=1, seconds=6)),
            lost.dispositioned(T0 + timedelta(days=1, minutes=20), "lost", reason="competitor"),
            late.ingested(T0 + timedelta(days=40)),
            late.qualified(T0 + timedelta(days=40)),
            late.assigned(T0 + timedelta(days=40, seconds=10)),
            fresh.ingested(T0 + timedelta(days=40), source="linkedin"),
        ],
    )
    return {"won": won, "rejected": rejected, "lost": lost, "late": late, "fresh": fresh}


def counts(funnel: Any) -> dict[str, int]:
    return {s.stage.value: s.count for s in funnel.stages}


class TestReports:
    async def test_funnel_counts_implied_stages(self, db: Database) -> None:
        await scripted_history(db)
        async with db.transaction() as session:
            funnel = await service.funnel_report(session, FactFilter())
        assert counts(funnel) == {
            "ingested": 5, "mql": 4, "assigned": 4, "accepted": 2,
            "rejected": 1, "sql": 1, "won": 1, "lost": 1, "recycled": 0,
        }  # fmt: skip
        assert [c.rate for c in funnel.conversions] == [0.8, 1.0, 0.5, 0.5, 1.0]
        assert [c.median_s for c in funnel.conversions][:2] == [1.0, 3.0]

    async def test_platform_test_leads_are_kept_but_never_counted(self, db: Database) -> None:
        await scripted_history(db)
        probe = Journey()
        test_lead = probe.ingested(T0).model_copy(
            update={"payload": probe.ingested(T0).payload.model_copy(update={"is_test": True})}
        )
        await apply(db, [test_lead, probe.qualified(T0 + timedelta(seconds=2))])
        async with db.transaction() as session:
            funnel = await service.funnel_report(session, FactFilter())
        assert counts(funnel)["ingested"] == 5
        assert counts(funnel)["mql"] == 4

    async def test_mql_delivery_counts_mqls_per_month_against_the_target(self, db: Database) -> None:
        await scripted_history(db)
        async with db.transaction() as session:
            months = await service.mql_delivery(session, FactFilter(), monthly_target=None)
        assert [(m.month, m.mqls, m.share_of_target) for m in months] == [
            ("2026-11", 3, None),
            ("2026-12", 1, None),
        ]

    async def test_funnel_filters_by_source_rubric_and_period(self, db: Database) -> None:
        await scripted_history(db)
        async with db.transaction() as session:
            linkedin = await service.funnel_report(session, FactFilter(source="linkedin"))
            v2 = await service.funnel_report(session, FactFilter(rubric_version="v2"))
            november = await service.funnel_report(
                session, FactFilter(ingested_from=T0, ingested_before=T0 + timedelta(days=28))
            )
        assert counts(linkedin)["ingested"] == 2
        assert counts(linkedin)["rejected"] == 1
        assert counts(v2)["ingested"] == 1
        assert counts(november)["ingested"] == 3

    async def test_funnel_grouped_by_source_puts_the_largest_group_first(self, db: Database) -> None:
        await scripted_history(db)
        async with db.transaction() as session:
            groups = await service.funnel_by(session, FactFilter(), by="source")
        assert [(g.key, counts(g.funnel)["ingested"], counts(g.funnel)["mql"]) for g in groups] == [
            ("form", 3, 3),
            ("linkedin", 2, 1),
        ]

    async def test_funnel_by_rubric_version_counts_a_lead_under_the_version_that_judged_it(
        self, db: Database
    ) -> None:
        """v2's activation re-scores every lead: the MQLs stay under the version that qualified
        them and the unqualified under the version active at their ingestion, so v1 keeps its
        ingested-but-not-MQL leads and v2 only holds the leads it judged itself."""
        qualified_by_v1, passed_over_by_v1, judged_by_v2 = Journey(), Journey(), Journey()
        activation = T0 + timedelta(days=3)
        await apply(
            db,
            [
                qualified_by_v1.ingested(T0),
                qualified_by_v1.scored(T0 + timedelta(seconds=1)),
                qualified_by_v1.qualified(T0 + timedelta(seconds=1)),
                passed_over_by_v1.ingested(T0),
                passed_over_by_v1.scored(T0 + timedelta(seconds=1), score=20, grade="D", is_mql=False),
                # The re-scores at v2's activation arrive before the older scorings (out of order).
                passed_over_by_v1.scored(activation, score=20, grade="D", rubric="v2", is_mql=False),
                qualified_by_v1.scored(activation, score=90, grade="A", rubric="v2"),
                judged_by_v2.ingested(activation + timedelta(hours=1)),
                judged_by_v2.scored(
                    activation + timedelta(hours=1), score=10, grade="D", rubric="v2", is_mql=False
                ),
            ],
        )
        async with db.transaction() as session:
            groups = await service.funnel_by(session, FactFilter(), by="rubric_version")
            v1 = await service.funnel_report(session, FactFilter(rubric_version="v1"))
        assert sorted((g.key, counts(g.funnel)["ingested"], counts(g.funnel)["mql"]) for g in groups) == [
            ("v1", 2, 1),
            ("v2", 1, 0),
        ]
        assert (counts(v1)["ingested"], counts(v1)["mql"]) == (2, 1)
        row = await fact_row(db, passed_over_by_v1.lead_id)
        assert (row["rubric_version"], row["ingest_rubric_version"]) == ("v2", "v1")

    async def test_speed_to_lead_by_tier(self, db: Database) -> None:
        await scripted_history(db)
        async with db.transaction() as session:
            rows = await service.speed_to_lead(session, FactFilter(), by="sla_tier")
        by_tier = {r.key: r for r in rows}
        hot = by_tier["hot"]
        assert (hot.system_n, hot.system_p50_s) == (3, 6.0)
        assert hot.system_p95_s == pytest.approx(9.6)
        assert hot.human_n == 2
        assert hot.human_p50_s == pytest.approx(((5 * 60 - 2) + (20 * 60 - 6)) / 2)
        warm = by_tier["warm"]
        assert (warm.system_n, warm.system_p50_s, warm.human_p50_s) == (1, 4.0, 3600 - 4)

    async def test_sla_counts_untouched_past_deadline_as_missed(self, db: Database) -> None:
        await scripted_history(db)
        async with db.transaction() as session:
            rows = await service.sla_attainment(
                session, FactFilter(), by="sla_tier", now=T0 + timedelta(days=41)
            )
            early = await service.sla_attainment(
                session, FactFilter(), by=None, now=T0 + timedelta(days=40, seconds=11)
            )
        by_tier = {r.key: r for r in rows}
        assert (by_tier["hot"].met, by_tier["hot"].missed, by_tier["hot"].pending) == (1, 2, 0)
        assert by_tier["hot"].share_met == pytest.approx(1 / 3)
        assert (by_tier["warm"].met, by_tier["warm"].share_met) == (1, 1.0)
        assert (early[0].met, early[0].missed, early[0].pending) == (2, 1, 1)

    async def test_reasons_are_a_pareto_of_rejections_and_losses(self, db: Database) -> None:
        await scripted_history(db)
        async with db.transaction() as session:
            reasons = await service.reasons_report(session, FactFilter())
        assert [(r.reason, r.count, r.share) for r in reasons.rejected] == [("no budget", 1, 1.0)]
        assert [(r.reason, r.count) for r in reasons.lost] == [("competitor", 1)]


def test_stage_enum_matches_outcomes() -> None:
    assert set(service.OUTCOME_STAGES.values()) == {
        Stage.ACCEPTED, Stage.REJECTED, Stage.SQL, Stage.WON, Stage.LOST, Stage.RECYCLED,
    }  # fmt: skip
