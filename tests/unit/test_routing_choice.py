"""Choosing a rep in a pool from in-memory state, as a single decision and a batch both do."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import UTC, datetime, time, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from services.routing import roundrobin
from services.routing.choice import PoolView, Workload, choose_in_pool, opened_standings
from services.routing.eligibility import local_day
from services.routing.models import Rep, RepLedger

MONDAY_1400 = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)
BASE = {"rules_version": "test", "decided_at": MONDAY_1400.isoformat()}


def rep(n: int, **fields: Any) -> Rep:
    values: dict[str, Any] = {
        "id": uuid.UUID(int=n),
        "name": f"rep {n}",
        "email": f"rep{n}@example.com",
        "active": True,
        "weight": 1,
        "timezone": "UTC",
        "skills": [],
        "work_start": None,
        "work_end": None,
        "work_days": [0, 1, 2, 3, 4],
        "max_open": None,
        "max_per_day": None,
    }
    return Rep(**{**values, **fields})


def pool(*reps: Rep, credits: dict[int, float] | None = None) -> PoolView:
    credits = credits or {}
    standings = {
        r.id: roundrobin.Standing(r.id, r.weight, credits.get(r.id.int, 0.0), pool="default") for r in reps
    }
    return PoolView("default", sorted(reps, key=lambda r: r.id), standings)


def empty() -> Workload:
    return Workload(open_counts={}, absences={}, day_counts={})


def choose(view: PoolView, workload: Workload, **kwargs: Any) -> Any:
    options: dict[str, Any] = {"required": frozenset(), "excluding": None, "at": MONDAY_1400, **kwargs}
    return choose_in_pool(view, workload, rule="everyone", base=BASE, **options)


def assign(view: PoolView, workload: Workload, at: datetime) -> uuid.UUID:
    """Decide one lead and credit it in memory, as a batch does between its leads."""
    decision = choose(view, workload, at=at)
    assert decision.chosen is not None
    assert decision.standing is not None
    view.standings[decision.chosen.id] = roundrobin.credited(decision.standing, at=at)
    workload.count(decision.chosen.id, local_day(decision.chosen.timezone, at))
    chosen: uuid.UUID = decision.chosen.id
    return chosen


class TestChooseInPool:
    def test_the_lowest_share_is_chosen_and_the_trace_ranks_everyone(self) -> None:
        view = pool(rep(1), rep(2), rep(3), credits={1: 2.0, 2: 1.0, 3: 3.0})
        decision = choose(view, empty())

        assert decision.chosen is not None
        assert decision.chosen.id == uuid.UUID(int=2)
        assert decision.trace["tie_break"] == "lowest_share"
        assert [e["rep_id"] for e in decision.trace["eligible"]] == [str(uuid.UUID(int=n)) for n in (2, 1, 3)]
        assert decision.trace["rules_version"] == "test"
        assert decision.queue == "default"

    def test_each_skip_carries_its_reason(self) -> None:
        away_now = {uuid.UUID(int=2): [(MONDAY_1400 - timedelta(hours=1), MONDAY_1400 + timedelta(hours=1))]}
        view = pool(
            rep(1, max_open=1),
            rep(2),
            rep(3, skills=["de"]),
            rep(4, work_start=time(6), work_end=time(10)),
            rep(5, active=False),
            rep(6, skills=["fr"]),
        )
        workload = Workload(open_counts={uuid.UUID(int=1): 1}, absences=away_now, day_counts={})
        decision = choose(view, workload, required=frozenset({"fr"}), excluding=uuid.UUID(int=6))

        assert decision.chosen is None
        reasons = {entry["rep_id"]: entry["reason"] for entry in decision.trace["skipped"]}
        assert reasons == {
            str(uuid.UUID(int=1)): "missing_skill",
            str(uuid.UUID(int=2)): "missing_skill",
            str(uuid.UUID(int=3)): "missing_skill",
            str(uuid.UUID(int=4)): "missing_skill",
            str(uuid.UUID(int=5)): "inactive",
            str(uuid.UUID(int=6)): "escalated_from",
        }
        without_skill = choose(view, workload)
        reasons = {entry["rep_id"]: entry["reason"] for entry in without_skill.trace["skipped"]}
        assert reasons == {
            str(uuid.UUID(int=1)): "capped",
            str(uuid.UUID(int=2)): "away",
            str(uuid.UUID(int=4)): "outside_hours",
            str(uuid.UUID(int=5)): "inactive",
        }

    def test_a_rep_below_the_pool_level_competes_from_it(self) -> None:
        picked_at = MONDAY_1400 - timedelta(minutes=1)
        view = pool(rep(1), rep(2))
        view.standings[uuid.UUID(int=1)] = roundrobin.Standing(uuid.UUID(int=1), 1, 5.0, picked_at, 4.0)
        decision = choose(view, empty())

        assert decision.trace["pool_level"] == 4.0
        assert decision.trace["leveled_from"] == {str(uuid.UUID(int=2)): 0.0}
        assert decision.chosen is not None
        assert decision.chosen.id == uuid.UUID(int=2)

    def test_counting_in_memory_caps_a_rep_for_the_next_lead(self) -> None:
        view, workload = pool(rep(1, max_open=1), rep(2, max_per_day=1), rep(3)), empty()
        chosen = [assign(view, workload, MONDAY_1400 + timedelta(seconds=s)) for s in range(4)]

        assert chosen == [uuid.UUID(int=n) for n in (1, 2, 3, 3)]

    @settings(max_examples=50, deadline=None)
    @given(weights=st.lists(st.integers(min_value=1, max_value=5), min_size=1, max_size=6))
    def test_successive_choices_share_leads_by_weight(self, weights: list[int]) -> None:
        reps = [rep(i + 1, weight=w) for i, w in enumerate(weights)]
        view, workload = pool(*reps), empty()
        total = sum(weights) * 4
        chosen = Counter(assign(view, workload, MONDAY_1400 + timedelta(seconds=s)) for s in range(total))

        assert chosen == {r.id: r.weight * 4 for r in reps}


class TestOpenedStandings:
    def test_a_rep_new_to_the_pool_opens_level_with_the_lowest_active_member(self) -> None:
        veteran, idle, newcomer = rep(1), rep(2, active=False), rep(3, weight=2)
        lines = {
            veteran.id: RepLedger(pool="p", rep_id=veteran.id, assigned=6, credit=6.0, weight=1),
            idle.id: RepLedger(pool="p", rep_id=idle.id, assigned=0, credit=0.0, weight=1),
            newcomer.id: RepLedger(pool="p", rep_id=newcomer.id, assigned=0, credit=0.0),
        }
        weights = {r.id: r.weight for r in (veteran, idle, newcomer)}
        standings = opened_standings(
            [veteran, idle, newcomer], lines, frozenset({newcomer.id}), pool="p", weights=weights
        )

        assert standings[newcomer.id].credit == 12.0
        assert standings[idle.id].credit == 0.0
