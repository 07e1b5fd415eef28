"""Both teams' scorecards against the signed agreement: delivery, acceptance and pace for
marketing; accept, contact and attempts per tier for sales, kept apart; the weekly trend."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from services.feedback.scorecards import (
    MarketingLead,
    SalesLead,
    elapsed_fraction,
    pace,
    period_of,
    scorecards,
)
from shared.contracts import AgreementTerms, TierCommitment

START, END = date(2027, 1, 1), date(2027, 1, 31)
TERMS = AgreementTerms(
    period_start=START,
    period_end=END,
    mql_commitment=62,
    acceptance_commitment=0.6,
    tiers=[
        TierCommitment(
            grade="A",
            tier="hot",
            first_touch_minutes=5,
            accept_minutes=30,
            contact_minutes=60,
            min_attempts=3,
        )
    ],
)


def at(day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(2027, 1, day, hour, minute, tzinfo=UTC)


def mql(day: int, *, accepted: bool = False, rejected: bool = False) -> MarketingLead:
    return MarketingLead(mql_at=at(day, 9), accepted=accepted, rejected=rejected)


class TestMarketingSide:
    def test_half_way_through_the_period_half_the_commitment_is_on_track(self) -> None:
        leads = [mql(1 + i % 15, accepted=i % 2 == 0, rejected=i % 2 == 1) for i in range(32)]
        cards = scorecards(
            TERMS, rubric_version="v", start=START, end=END, marketing=leads, sales=[], now=at(16, 12)
        )
        card = cards.marketing
        assert (card.delivered, card.commitment, card.accepted, card.rejected) == (32, 62, 16, 16)
        assert card.acceptance_rate == 0.5
        share_of_period_gone = elapsed_fraction(START, END, at(16, 12))
        assert card.forecast == round(32 / share_of_period_gone)
        assert card.pace == "on_track"

    def test_too_few_mqls_for_the_days_gone_is_at_risk(self) -> None:
        cards = scorecards(
            TERMS, rubric_version="v", start=START, end=END, marketing=[mql(2)] * 10, sales=[], now=at(16)
        )
        assert cards.marketing.pace == "at_risk"
        assert cards.marketing.expected_to_date == 30

    def test_before_the_period_starts_there_is_no_forecast(self) -> None:
        cards = scorecards(
            TERMS,
            rubric_version="v",
            start=START,
            end=END,
            marketing=[],
            sales=[],
            now=datetime(2026, 12, 20, tzinfo=UTC),
        )
        assert (cards.marketing.forecast, cards.marketing.pace) == (None, None)

    def test_a_lead_accepted_after_a_rejection_counts_as_accepted(self) -> None:
        cards = scorecards(
            TERMS,
            rubric_version="v",
            start=START,
            end=END,
            marketing=[mql(3, accepted=True, rejected=True)],
            sales=[],
            now=at(20),
        )
        assert (cards.marketing.accepted, cards.marketing.rejected) == (1, 0)

    def test_pace_needs_a_commitment(self) -> None:
        assert pace(10, None) is None
        assert pace(10, 10) == "on_track"


class TestSalesSide:
    def test_accepting_is_not_contact(self) -> None:
        assigned = at(4, 9)
        lead = SalesLead(
            tier="hot",
            assigned_at=assigned,
            decided_at=assigned + timedelta(minutes=1),
            first_contact_at=assigned + timedelta(minutes=90),
            attempts=3,
        )
        (card,) = scorecards(
            TERMS, rubric_version="v", start=START, end=END, marketing=[], sales=[lead], now=at(10)
        ).sales
        assert (card.accept.within, card.accept.measured, card.accept.p50) == (1, 1, 1.0)
        assert (card.contact.within, card.contact.measured, card.contact.p50) == (0, 1, 90.0)
        # Attempts are owed before a lead is dropped: one still worked is pending.
        assert (card.attempts.pending, card.attempts.measured, card.attempts.p50) == (1, 0, 3.0)

    def test_a_lead_nobody_contacts_breaks_the_commitment_once_its_time_is_up(self) -> None:
        lead = SalesLead(tier="hot", assigned_at=at(4, 9), decided_at=None, first_contact_at=None, attempts=0)
        early = scorecards(
            TERMS, rubric_version="v", start=START, end=END, marketing=[], sales=[lead], now=at(4, 9, 20)
        ).sales[0]
        late = scorecards(
            TERMS, rubric_version="v", start=START, end=END, marketing=[], sales=[lead], now=at(4, 11)
        ).sales[0]
        assert (early.contact.pending, early.contact.measured, early.contact.share_within) == (1, 0, None)
        assert (late.contact.pending, late.contact.measured, late.contact.share_within) == (0, 1, 0.0)
        assert late.attempts.share_within is None

    def test_a_lead_dropped_before_the_attempts_owed_breaks_the_commitment(self) -> None:
        leads = [
            SalesLead(
                tier="hot",
                assigned_at=at(4),
                decided_at=at(4, 1),
                first_contact_at=at(4, 1),
                attempts=n,
                dropped=True,
            )
            for n in (1, 3)
        ]
        (card,) = scorecards(
            TERMS, rubric_version="v", start=START, end=END, marketing=[], sales=leads, now=at(10)
        ).sales
        assert (card.attempts.within, card.attempts.measured, card.attempts.share_within) == (1, 2, 0.5)

    def test_a_tier_the_agreement_does_not_name_is_shown_without_commitments(self) -> None:
        lead = SalesLead(tier="cold", assigned_at=at(4), decided_at=at(5), first_contact_at=None, attempts=1)
        cards = scorecards(
            TERMS, rubric_version="v", start=START, end=END, marketing=[], sales=[lead], now=at(9)
        )
        assert [c.tier for c in cards.sales] == ["hot", "cold"]
        assert cards.sales[1].accept.commitment is None
        assert cards.sales[0].leads == 0


class TestWeeklyTrend:
    def test_each_iso_week_of_the_period_has_its_share_of_the_commitment(self) -> None:
        cards = scorecards(
            TERMS,
            rubric_version="v",
            start=START,
            end=END,
            marketing=[mql(1), mql(4), mql(5)],
            sales=[],
            now=at(31, 23),
        )
        weeks = [(w.week, w.start, w.marketing.delivered, w.marketing.commitment) for w in cards.weeks]
        # 1 January 2027 is a Friday: its ISO week is 2026's 53rd, three days of it in the period.
        assert weeks[0] == ("2026-W53", date(2027, 1, 1), 1, 6)
        assert weeks[1] == ("2027-W01", date(2027, 1, 4), 2, 14)
        assert len(weeks) == 5
        assert sum(w.marketing.delivered for w in cards.weeks) == cards.marketing.delivered


def test_without_an_agreement_the_period_is_the_current_month() -> None:
    assert period_of(None, datetime(2027, 2, 14, tzinfo=UTC)) == (date(2027, 2, 1), date(2027, 2, 28))
    assert period_of(TERMS, at(3)) == (START, END)
