"""The ranking guard on the volume the draft keeps: the floors and minimums must qualify the
leads the draft itself scores highest."""

from __future__ import annotations

from services.feedback.candidates import DiscoveryPolicy
from services.feedback.discovery import guardrail_statement
from services.feedback.tuning import Policy, Rescored, qualifies
from services.feedback.volume import follow_ranking, keep_volume
from tests.unit.test_feedback_tuning import starter

STARTER = starter()  # B from 35 fit with 20 engagement, or 100 in total


def leads(strong_fit: tuple[float, float], engaged: tuple[float, float]) -> list[Rescored]:
    """20 leads of each (fit, engagement) and 60 that score nothing."""
    return [
        *(Rescored(*strong_fit, False, False) for _ in range(20)),
        *(Rescored(*engaged, False, False) for _ in range(20)),
        *(Rescored(0.0, 0.0, False, False) for _ in range(60)),
    ]


class TestFollowRanking:
    def test_floors_that_let_engagement_alone_decide_give_way_to_the_drafts_ranking(self) -> None:
        """Today's MQLs are the 20 engaged leads at the B floor; the draft scores the 20 strong-fit
        leads highest (90 against 61), which only a lower total-score bar qualifies."""
        draft = leads((90.0, 0.0), (36.0, 25.0))
        nearest = keep_volume(STARTER, draft, draft, max_shift=30, mass_ratio=1.0)
        ranked = follow_ranking(STARTER, draft, draft, max_shift=30, mass_ratio=1.0)
        assert nearest == (0, 1.0, 1.0)
        assert (ranked.nearest, ranked.agreement, ranked.moved) == (0.0, 1.0, True)
        mqls = [
            qualifies(x, STARTER, ranked.shift, ranked.engagement_scale, ranked.total_scale) for x in draft
        ]
        assert mqls == [True] * 20 + [False] * 80

    def test_floors_that_already_follow_the_ranking_are_kept(self) -> None:
        draft = leads((90.0, 0.0), (36.0, 70.0))
        ranked = follow_ranking(STARTER, draft, draft, max_shift=30, mass_ratio=1.0)
        assert (ranked.shift, ranked.engagement_scale, ranked.total_scale) == keep_volume(
            STARTER, draft, draft, max_shift=30, mass_ratio=1.0
        )
        assert (ranked.agreement, ranked.moved) == (1.0, False)

    def test_a_gain_below_the_guards_margin_keeps_the_nearest_floors(self) -> None:
        """39 of the 40 best-scored leads qualify today; a lower total bar would qualify all 40,
        but 1 in 40 is below the 5 % the guard asks for."""
        draft = [
            *(Rescored(40.0, 30.0, False, False) for _ in range(39)),
            Rescored(36.0, 20.0, False, False),
            Rescored(90.0, 0.0, False, False),
            *(Rescored(0.0, 0.0, False, False) for _ in range(60)),
        ]
        ranked = follow_ranking(STARTER, draft, draft, max_shift=30, mass_ratio=1.0)
        assert (ranked.nearest, ranked.moved) == (39 / 40, False)
        assert (ranked.shift, ranked.engagement_scale, ranked.total_scale) == keep_volume(
            STARTER, draft, draft, max_shift=30, mass_ratio=1.0
        )

    def test_the_guard_is_stated_with_the_other_guardrails(self) -> None:
        stated = guardrail_statement(Policy(), DiscoveryPolicy())
        assert any("the leads the draft scores highest" in line and "5%" in line for line in stated)
