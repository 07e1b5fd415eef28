"""The weighted round-robin rule and its fairness ledger, including properties over sequences."""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from services.routing.roundrobin import (
    Standing,
    credited,
    leveled,
    opening_credit,
    pick,
    pool_level,
    rebased_credit,
    returning_credit,
)

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
EPS = 1e-9


def rep_ids(n: int) -> list[uuid.UUID]:
    return sorted(uuid.UUID(int=i + 1) for i in range(n))


def run(weights: list[int], picks: int) -> dict[uuid.UUID, Standing]:
    ledger = {rid: Standing(rid, w, 0.0) for rid, w in zip(rep_ids(len(weights)), weights, strict=True)}
    for step in range(picks):
        chosen = pick(list(ledger.values())).chosen
        ledger[chosen.rep_id] = credited(chosen, at=T0 + timedelta(seconds=step))
    return ledger


def assert_within_one_assignment(standings: list[Standing]) -> None:
    """Take one assignment away from any rep and their share is no longer above anyone's."""
    for a in standings:
        for b in standings:
            assert (a.credit - 1) / a.weight <= b.share + EPS, (a, b)


class TestPick:
    def test_lowest_share_wins(self) -> None:
        a, b = rep_ids(2)
        result = pick([Standing(a, 1, 3.0), Standing(b, 2, 4.0)])
        assert result.chosen.rep_id == b
        assert result.tie_break == "lowest_share"

    def test_tie_goes_to_who_waited_longest(self) -> None:
        a, b = rep_ids(2)
        result = pick([Standing(a, 1, 1.0, T0 + timedelta(minutes=1)), Standing(b, 1, 1.0, T0)])
        assert result.chosen.rep_id == b
        assert result.tie_break == "oldest_last_assigned"

    def test_never_assigned_counts_as_waiting_longest(self) -> None:
        a, b = rep_ids(2)
        assert pick([Standing(a, 1, 0.0, T0), Standing(b, 1, 0.0)]).chosen.rep_id == b

    def test_full_tie_goes_to_smallest_id(self) -> None:
        a, b = rep_ids(2)
        result = pick([Standing(b, 1, 0.0), Standing(a, 1, 0.0)])
        assert result.chosen.rep_id == a
        assert result.tie_break == "rep_id"

    def test_a_single_candidate_is_chosen(self) -> None:
        (a,) = rep_ids(1)
        assert pick([Standing(a, 3, 7.0)]).tie_break == "only_candidate"

    def test_weights_split_leads_proportionally(self) -> None:
        ledger = run([1, 2, 3], 600)
        assert [s.credit for s in ledger.values()] == [100, 200, 300]

    def test_equal_weights_rotate_in_id_order(self) -> None:
        ids = rep_ids(3)
        ledger = {rid: Standing(rid, 1, 0.0) for rid in ids}
        order = []
        for step in range(6):
            chosen = pick(list(ledger.values())).chosen
            order.append(chosen.rep_id)
            ledger[chosen.rep_id] = credited(chosen, at=T0 + timedelta(seconds=step))
        assert order == ids + ids


class TestLedgerChanges:
    def test_newcomer_starts_level_with_the_lowest_standing(self) -> None:
        a, b = rep_ids(2)
        others = [Standing(a, 1, 10.0), Standing(b, 2, 30.0)]
        assert opening_credit(3, others) == 30.0
        assert opening_credit(3, []) == 0.0

    def test_newcomer_gets_no_catch_up_burst(self) -> None:
        ledger = run([1, 1, 1], 300)
        newcomer = uuid.UUID(int=99)
        ledger[newcomer] = Standing(newcomer, 1, opening_credit(1, list(ledger.values())))
        first_four = []
        for step in range(4):
            chosen = pick(list(ledger.values())).chosen
            first_four.append(chosen.rep_id)
            ledger[chosen.rep_id] = credited(chosen, at=T0 + timedelta(hours=1, seconds=step))
        assert first_four.count(newcomer) == 1

    def test_returning_rep_is_not_owed_the_leads_they_missed(self) -> None:
        (a, b) = rep_ids(2)
        away = Standing(a, 1, 5.0)
        assert returning_credit(away, [Standing(b, 1, 50.0)]) == 50.0
        assert returning_credit(Standing(a, 1, 60.0), [Standing(b, 1, 50.0)]) == 60.0

    def test_weight_change_keeps_the_standing(self) -> None:
        credit = rebased_credit(12.0, old_weight=2, new_weight=3)
        assert credit / 3 == 12.0 / 2


class TestPoolLevel:
    def test_level_is_the_share_the_latest_assignee_was_picked_at(self) -> None:
        a, b = rep_ids(2)
        ledger = [
            credited(Standing(a, 2, 4.0), at=T0),
            credited(Standing(b, 1, 1.0), at=T0 + timedelta(seconds=1)),
        ]
        assert pool_level(ledger) == 1.0
        assert pool_level([Standing(a, 1, 0.0)]) == 0.0

    def test_rep_back_from_a_skip_competes_from_the_pool_level(self) -> None:
        (a,) = rep_ids(1)
        assert leveled(Standing(a, 2, 1.0), 3.0).credit == 6.0
        assert leveled(Standing(a, 2, 9.0), 3.0).credit == 9.0


weights_st = st.lists(st.integers(min_value=1, max_value=10), min_size=1, max_size=8)


class TestFairnessProperties:
    @given(weights=weights_st, picks=st.integers(min_value=0, max_value=300))
    def test_every_share_is_within_one_assignment_of_every_other(
        self, weights: list[int], picks: int
    ) -> None:
        assert_within_one_assignment(list(run(weights, picks).values()))

    @given(weights=weights_st, picks=st.integers(min_value=0, max_value=300))
    def test_nobody_gets_more_than_their_weighted_quota_rounded_up(
        self, weights: list[int], picks: int
    ) -> None:
        total = sum(weights)
        for standing in run(weights, picks).values():
            assert standing.credit <= math.ceil(picks * standing.weight / total - EPS)

    @given(reps=st.integers(min_value=1, max_value=12), picks=st.integers(min_value=0, max_value=300))
    def test_equal_weights_stay_within_one_lead(self, reps: int, picks: int) -> None:
        counts = [s.credit for s in run([1] * reps, picks).values()]
        assert max(counts) - min(counts) <= 1

    @settings(max_examples=200)
    @given(
        weights=st.lists(st.integers(min_value=1, max_value=5), min_size=2, max_size=6),
        operations=st.lists(
            st.one_of(
                st.tuples(st.just("assign"), st.integers(min_value=1, max_value=20)),
                st.tuples(st.sampled_from(["leave", "return"]), st.integers(min_value=0, max_value=5)),
            ),
            max_size=30,
        ),
    )
    def test_joining_leaving_and_returning_never_cause_a_burst(
        self, weights: list[int], operations: list[tuple[str, int]]
    ) -> None:
        ids = rep_ids(len(weights))
        ledger: dict[uuid.UUID, Standing] = {ids[0]: Standing(ids[0], weights[0], 0.0)}
        active = {ids[0]}
        pending = [Standing(rid, w, 0.0) for rid, w in zip(ids[1:], weights[1:], strict=True)]
        step = 0
        for op, arg in operations:
            if op == "assign":
                for _ in range(arg):
                    step += 1
                    chosen = pick([ledger[r] for r in active]).chosen
                    ledger[chosen.rep_id] = credited(chosen, at=T0 + timedelta(seconds=step))
            elif op == "return" and pending:
                newcomer = pending.pop(0)
                credit = opening_credit(newcomer.weight, [ledger[r] for r in active])
                ledger[newcomer.rep_id] = Standing(newcomer.rep_id, newcomer.weight, credit)
                active.add(newcomer.rep_id)
            elif op == "return" and set(ledger) - active:
                away = sorted(set(ledger) - active)
                rid = away[arg % len(away)]
                others = [ledger[r] for r in active if r != rid]
                ledger[rid] = Standing(rid, ledger[rid].weight, returning_credit(ledger[rid], others))
                active.add(rid)
            elif op == "leave" and len(active) > 1:
                active.discard(sorted(active)[arg % len(active)])
            assert_within_one_assignment([ledger[r] for r in active])

    @settings(max_examples=200)
    @given(
        weights=st.lists(st.integers(min_value=1, max_value=5), min_size=2, max_size=6),
        operations=st.lists(
            st.one_of(
                st.tuples(st.just("assign"), st.integers(min_value=1, max_value=20)),
                st.tuples(st.just("toggle"), st.integers(min_value=0, max_value=5)),
            ),
            max_size=30,
        ),
    )
    def test_reps_skipped_for_a_while_get_no_burst_when_back(
        self, weights: list[int], operations: list[tuple[str, int]]
    ) -> None:
        """Outside hours or at their cap, a rep is skipped without any ledger change; leveling
        at pick time keeps them from a burst when they are eligible again."""
        ids = rep_ids(len(weights))
        ledger = {rid: Standing(rid, w, 0.0) for rid, w in zip(ids, weights, strict=True)}
        eligible = set(ids)
        step = 0
        for op, arg in operations:
            if op == "toggle":
                rid = ids[arg % len(ids)]
                if rid in eligible and len(eligible) > 1:
                    eligible.discard(rid)
                else:
                    eligible.add(rid)
                continue
            for _ in range(arg):
                step += 1
                level = pool_level(list(ledger.values()))
                chosen = pick([leveled(ledger[r], level) for r in eligible]).chosen
                ledger[chosen.rep_id] = credited(chosen, at=T0 + timedelta(seconds=step))
                level = pool_level(list(ledger.values()))
                assert_within_one_assignment([leveled(ledger[r], level) for r in eligible])
