"""The funnel's pure logic: implied stages, counts and conversions."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from services.feedback.funnel import (
    CONVERSIONS,
    MAIN_PATH,
    STAGES,
    Stage,
    build_funnel,
    count_stages,
    funnel_from_signatures,
    reached,
)

signatures = st.lists(
    st.tuples(st.frozensets(st.sampled_from(STAGES)), st.integers(min_value=0, max_value=1000)),
    max_size=30,
)


class TestReached:
    def test_won_implies_the_whole_main_path(self) -> None:
        assert reached([Stage.WON]) == set(MAIN_PATH)

    def test_lost_implies_accepted_but_not_sql(self) -> None:
        assert reached([Stage.LOST]) == {
            Stage.LOST,
            Stage.ACCEPTED,
            Stage.ASSIGNED,
            Stage.MQL,
            Stage.INGESTED,
        }

    def test_rejected_implies_assignment_but_not_acceptance(self) -> None:
        assert reached([Stage.REJECTED]) == {Stage.REJECTED, Stage.ASSIGNED, Stage.MQL, Stage.INGESTED}

    def test_ingested_alone_implies_nothing_else(self) -> None:
        assert reached([Stage.INGESTED]) == {Stage.INGESTED}

    def test_nothing_recorded_reaches_nothing(self) -> None:
        assert reached([]) == frozenset()

    @given(st.frozensets(st.sampled_from(STAGES)))
    def test_closure_is_idempotent_and_keeps_what_was_recorded(self, recorded: frozenset[Stage]) -> None:
        closed = reached(recorded)
        assert recorded <= closed
        assert reached(closed) == closed


class TestFunnel:
    def test_a_won_lead_without_intermediate_events_counts_at_every_stage(self) -> None:
        funnel = funnel_from_signatures([({Stage.INGESTED}, 3), ({Stage.WON}, 1)])
        assert funnel.count(Stage.INGESTED) == 4
        assert funnel.count(Stage.MQL) == funnel.count(Stage.SQL) == funnel.count(Stage.WON) == 1
        assert funnel.count(Stage.REJECTED) == funnel.count(Stage.LOST) == 0
        assert funnel.rate_into(Stage.MQL) == 0.25
        assert funnel.rate_into(Stage.WON) == 1.0

    def test_rates_are_null_when_nobody_reached_the_earlier_stage(self) -> None:
        funnel = funnel_from_signatures([({Stage.INGESTED}, 2)])
        assert funnel.rate_into(Stage.MQL) == 0.0
        assert [c.rate for c in funnel.conversions][1:] == [None, None, None, None]

    def test_empty_funnel_has_zero_counts_and_null_rates(self) -> None:
        funnel = build_funnel({})
        assert [s.count for s in funnel.stages] == [0] * len(STAGES)
        assert all(c.rate is None for c in funnel.conversions)

    def test_stages_and_conversions_come_in_a_fixed_order(self) -> None:
        funnel = build_funnel({})
        assert [s.stage.value for s in funnel.stages] == [
            "ingested", "mql", "assigned", "accepted", "rejected", "sql", "won", "lost", "recycled",
        ]  # fmt: skip
        assert [(c.from_stage.value, c.to_stage.value) for c in funnel.conversions] == [
            ("ingested", "mql"),
            ("mql", "assigned"),
            ("assigned", "accepted"),
            ("accepted", "sql"),
            ("sql", "won"),
        ]

    def test_a_recycled_lead_counts_as_assigned_and_converts_nowhere(self) -> None:
        funnel = funnel_from_signatures([({Stage.RECYCLED}, 2)])
        assert funnel.count(Stage.RECYCLED) == 2
        assert funnel.count(Stage.ASSIGNED) == 2
        assert funnel.count(Stage.ACCEPTED) == 0
        assert funnel.rate_into(Stage.RECYCLED) is None

    def test_rejected_and_lost_have_no_conversion_into_them(self) -> None:
        funnel = funnel_from_signatures([({Stage.REJECTED}, 1), ({Stage.LOST}, 1)])
        assert funnel.rate_into(Stage.REJECTED) is None
        assert funnel.rate_into(Stage.LOST) is None
        assert funnel.count(Stage.ASSIGNED) == 2
        assert funnel.rate_into(Stage.ACCEPTED) == 0.5

    @given(signatures)
    def test_counts_never_increase_along_the_main_path(
        self, rows: list[tuple[frozenset[Stage], int]]
    ) -> None:
        counts = count_stages(rows)
        path = [counts[stage] for stage in MAIN_PATH]
        assert path == sorted(path, reverse=True)
        assert counts[Stage.REJECTED] <= counts[Stage.ASSIGNED]
        assert counts[Stage.LOST] <= counts[Stage.ACCEPTED]

    @given(signatures)
    def test_every_rate_is_within_zero_and_one(self, rows: list[tuple[frozenset[Stage], int]]) -> None:
        funnel = funnel_from_signatures(rows)
        for conversion in funnel.conversions:
            assert conversion.rate is None or 0.0 <= conversion.rate <= 1.0
            if conversion.rate is None:
                assert funnel.count(conversion.from_stage) == 0

    @given(signatures)
    def test_splitting_leads_across_rows_does_not_change_counts(
        self, rows: list[tuple[frozenset[Stage], int]]
    ) -> None:
        one_by_one = [(stages, 1) for stages, n in rows for _ in range(min(n, 5))]
        capped = [(stages, min(n, 5)) for stages, n in rows]
        assert count_stages(one_by_one) == count_stages(capped)

    def test_medians_are_attached_to_their_conversion(self) -> None:
        funnel = build_funnel({Stage.INGESTED: 2, Stage.MQL: 1}, {(Stage.INGESTED, Stage.MQL): 30.0})
        assert funnel.conversions[0].median_s == 30.0
        assert all(c.median_s is None for c in funnel.conversions[1:])

    def test_conversions_cover_consecutive_main_path_stages(self) -> None:
        assert [a for a, _ in CONVERSIONS] == list(MAIN_PATH[:-1])
        assert [b for _, b in CONVERSIONS] == list(MAIN_PATH[1:])
