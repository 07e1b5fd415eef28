"""Revenue attribution and the reverse funnel, as pure logic."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from services.feedback.attribution import (
    KEYS,
    UNATTRIBUTED,
    Touch,
    WonDeal,
    attribute,
    touch_from_activity,
    touch_from_ingestion,
)
from services.feedback.funnel import Stage
from services.feedback.reverse_funnel import measured_rates, missing_measurements, plan

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def touch(hours: float, source: str, campaign: str | None = None) -> Touch:
    return Touch(occurred_at=T0 + timedelta(hours=hours), kind="ingested", source=source, campaign=campaign)


class TestTouches:
    def test_a_tagged_ingestion_is_credited_to_its_utm_source(self) -> None:
        t = touch_from_ingestion(
            submitted_at=T0,
            source="facebook",
            utm={"source": "fb", "campaign": "spring", "content": "blue"},
            attributes={"ad_name": "Blue ad"},
        )
        assert (t.source, t.campaign, t.ad) == ("fb", "spring", "Blue ad")

    def test_an_untagged_ingestion_is_credited_to_where_it_came_from(self) -> None:
        t = touch_from_ingestion(submitted_at=T0, source="form", utm={}, attributes={})
        assert (t.source, t.campaign, t.ad) == ("form", None, None)

    def test_only_activities_with_campaign_data_are_touches(self) -> None:
        assert (
            touch_from_activity(occurred_at=T0, activity_type="page_view", properties={"page_path": "/"})
            is None
        )
        t = touch_from_activity(
            occurred_at=T0,
            activity_type="email_click",
            properties={"utm.source": "newsletter", "utm.campaign": "nurture", "url": "https://x"},
        )
        assert t is not None
        assert (t.kind, t.source, t.campaign) == ("email_click", "newsletter", "nurture")

    def test_the_same_touch_has_the_same_key_in_any_time_zone(self) -> None:
        paris = T0.astimezone(timezone(timedelta(hours=1)))
        assert touch(0, "google").key == Touch(occurred_at=paris, kind="ingested", source="google").key


class TestAttribute:
    def test_the_three_models_split_one_deal(self) -> None:
        deal = WonDeal(
            won_at=T0 + timedelta(days=9),
            amount=Decimal(900),
            touches=(touch(5, "linkedin"), touch(0, "google"), touch(2, "google"), touch(24 * 10, "fb")),
        )
        rows = {c.key: c for c in attribute([deal], by=KEYS["source"])}
        assert set(rows) == {"google", "linkedin"}  # the touch after the win does not count
        assert (rows["google"].first_touch, rows["google"].last_touch, rows["google"].linear) == (
            Decimal(900),
            Decimal(0),
            Decimal(600),
        )
        assert (rows["linkedin"].first_touch, rows["linkedin"].last_touch, rows["linkedin"].linear) == (
            Decimal(0),
            Decimal(900),
            Decimal(300),
        )
        assert rows["google"].deals == rows["linkedin"].deals == 1

    def test_a_deal_without_touches_is_unattributed_so_every_model_adds_up(self) -> None:
        deals = [
            WonDeal(won_at=T0, amount=Decimal(100), touches=()),
            WonDeal(
                won_at=T0 + timedelta(days=1), amount=Decimal(50), touches=(touch(1, "google", "spring"),)
            ),
        ]
        rows = attribute(deals, by=KEYS["campaign"])
        assert [(r.key, r.linear) for r in rows] == [(UNATTRIBUTED, Decimal(100)), ("spring", Decimal(50))]
        for model in ("first_touch", "last_touch", "linear"):
            assert sum(getattr(r, model) for r in rows) == Decimal(150)


class TestReverseFunnel:
    counts = {Stage.INGESTED: 40, Stage.MQL: 10, Stage.SQL: 4, Stage.WON: 2}

    def test_needs_are_walked_back_from_the_goal_and_rounded_up(self) -> None:
        rates = measured_rates(self.counts)
        result = plan(
            rates, revenue_goal=Decimal(30_000), months=3, deals_with_amount=2, revenue=Decimal(4000)
        )
        assert result.average_deal == Decimal(2000)
        # 5 won a month (15 over the period); 10 SQLs; 25 MQLs; 100 leads.
        assert [(n.stage, n.per_month, n.over_period) for n in result.needs] == [
            (Stage.WON, 5, 15),
            (Stage.SQL, 10, 30),
            (Stage.MQL, 25, 75),
            (Stage.INGESTED, 100, 300),
        ]

    def test_fractional_needs_round_up_only_at_the_end(self) -> None:
        rates = measured_rates({Stage.INGESTED: 3, Stage.MQL: 1, Stage.SQL: 1, Stage.WON: 1})
        result = plan(rates, revenue_goal=Decimal(10), months=3, deals_with_amount=1, revenue=Decimal(3))
        assert [(n.per_month, n.over_period) for n in result.needs][::3] == [(2, 4), (4, 10)]

    @pytest.mark.parametrize(
        ("counts", "missing"),
        [
            ({}, "lead→MQL rate: no lead in the period yet"),
            ({Stage.INGESTED: 5, Stage.MQL: 2}, "MQL→SQL rate: none of the 2 MQLs reached SQL yet"),
        ],
    )
    def test_what_cannot_be_measured_is_named(self, counts: dict[Stage, int], missing: str) -> None:
        said = missing_measurements(measured_rates(counts), deals_with_amount=0, revenue=Decimal(0))
        assert missing in said
        assert said[-1] == "average deal size: no won deal with an amount yet"
