"""A scripted history of seven leads whose every report number was worked out by hand.

Shared by the exact report tests and the dashboard's browser test. Times are offsets from each
lead's start; the hand-computed figures are in `tests/integration/test_feedback_reports.py`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from shared.contracts import (
    ActivityRecorded,
    ActivityRecordedPayload,
    AnyEvent,
    FiredRule,
    LeadIngested,
    LeadIngestedPayload,
    LeadScored,
    LeadScoredPayload,
    LeadTouched,
    LeadTouchedPayload,
)
from tests.integration.test_feedback_facts import Journey

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
NOW = T0 + timedelta(days=41)
S = timedelta(seconds=1)
MIN = timedelta(minutes=1)
H = timedelta(hours=1)
D = timedelta(days=1)
GOOGLE_SPRING = {"source": "google", "campaign": "spring"}
EXECUTIVE, MID_MARKET = "title-executive", "company-size-mid-market"


@dataclass
class Lead(Journey):
    """A journey that also carries UTM tags, touches and campaign-tagged activities."""

    def tagged(
        self, at: datetime, *, source: str = "form", utm: dict[str, str] | None = None
    ) -> LeadIngested:
        payload = LeadIngestedPayload(
            source=source,
            form_id="demo-request",
            email=f"{self.lead_id}@example.com",
            utm=utm or {},
            submitted_at=at,
        )
        return LeadIngested.new(lead_id=self.lead_id, payload=payload, producer="ingest", occurred_at=at)

    def activity(self, at: datetime, kind: str, **properties: str) -> ActivityRecorded:
        payload = ActivityRecordedPayload(
            activity_type=kind,
            occurred_at=at,
            email=f"{self.lead_id}@example.com",
            source="website",
            properties=properties,
        )
        return ActivityRecorded.new(lead_id=self.lead_id, payload=payload, producer="ingest", occurred_at=at)

    def scored_by(self, at: datetime, *rules: str) -> LeadScored:
        """A qualifying score whose fired rules are `rules` (fit rules of the starter rubric)."""
        fired = [FiredRule(rule_id=r, kind="fit", points=10, reason=r) for r in rules]
        payload = LeadScoredPayload(
            rubric_version="v1",  # the version `qualified` carries: one verdict, one version
            score=70,
            fit_score=40,
            engagement_score=30,
            grade="A",
            is_mql=True,
            fired_rules=fired,
        )
        return LeadScored.new(lead_id=self.lead_id, payload=payload, producer="scoring", occurred_at=at)

    def touched(self, at: datetime) -> LeadTouched:
        payload = LeadTouchedPayload(
            assignment_id=self.assignment_id, rep_id=self.rep_id, channel="call", touched_at=at
        )
        return LeadTouched.new(lead_id=self.lead_id, payload=payload, producer="routing", occurred_at=at)


def scripted_events() -> list[AnyEvent]:
    """Seven leads: two won, two rejected, one lost, one assigned and never touched, one not an MQL."""
    a, b, c, d, e, f, g = (Lead(rep_id=uuid.uuid4()) for _ in range(7))
    s = T0
    won_big = [
        a.tagged(s, utm=GOOGLE_SPRING),
        a.qualified(s + 10 * S, tier="hot"),
        a.scored_by(s + 10 * S, EXECUTIVE, MID_MARKET),
        a.assigned(s + 20 * S, tier="hot", sla=15 * MIN),
        a.dispositioned(s + 20 * S + 5 * MIN, "accepted"),
        a.activity(s + 2 * H, "page_view", page_path="/pricing"),
        a.activity(s + D, "email_click", **{"utm.source": "newsletter", "utm.campaign": "nurture"}),
        a.dispositioned(s + 2 * D, "sql"),
        a.dispositioned(s + 20 * D, "won", amount=Decimal("3000.00")),
        a.activity(s + 25 * D, "ad_click", **{"utm.source": "linkedin", "utm.campaign": "retarget"}),
    ]
    s = T0 + H
    won_small = [
        b.tagged(s, source="linkedin"),
        b.qualified(s + 30 * S, tier="warm"),
        b.scored_by(s + 30 * S, MID_MARKET),
        b.assigned(s + 60 * S, tier="warm", sla=4 * H),
        b.touched(s + 60 * S + 10 * MIN),
        b.dispositioned(s + 2 * H, "accepted"),
        b.dispositioned(s + 3 * D, "sql"),
        b.dispositioned(s + 30 * D, "won", amount=Decimal("1000.00")),
    ]
    s = T0 + 2 * H
    rejected_late = [
        c.tagged(s, utm=GOOGLE_SPRING),
        c.qualified(s + 5 * S, tier="hot"),
        c.scored_by(s + 5 * S, EXECUTIVE),
        c.assigned(s + 15 * S, tier="hot", sla=15 * MIN),
        c.dispositioned(s + 15 * S + H, "rejected", reason="no budget"),
    ]
    s = T0 + 3 * H
    rejected_fast = [
        d.tagged(s),
        d.qualified(s + 5 * S, tier="hot"),
        d.scored_by(s + 5 * S, MID_MARKET),
        d.assigned(s + 25 * S, tier="hot", sla=15 * MIN),
        d.dispositioned(s + 25 * S + 2 * MIN, "rejected", reason="student"),
    ]
    s = T0 + D
    lost = [
        e.tagged(s, source="linkedin", utm={"source": "linkedin", "campaign": "abm"}),
        e.qualified(s + 2 * S, tier="hot"),
        e.scored_by(s + 2 * S, EXECUTIVE),
        e.assigned(s + 8 * S, tier="hot", sla=15 * MIN),
        e.dispositioned(s + 8 * S + 20 * MIN, "accepted"),
        e.dispositioned(s + 2 * D, "sql"),
        e.dispositioned(s + 10 * D, "lost", reason="competitor"),
    ]
    s = T0 + 40 * D
    untouched = [
        f.tagged(s),
        f.qualified(s + S, tier="hot"),
        f.assigned(s + 11 * S, tier="hot", sla=15 * MIN),
    ]
    not_an_mql = [g.tagged(s)]
    return [*won_big, *won_small, *rejected_late, *rejected_fast, *lost, *untouched, *not_an_mql]
