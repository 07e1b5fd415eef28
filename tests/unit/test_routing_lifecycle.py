"""The assignment lifecycle: which outcomes follow which, and which hand-overs a status allows."""

from __future__ import annotations

import pytest

from services.routing.errors import DispositionInvalid, IllegalTransition
from services.routing.lifecycle import (
    DECLINABLE,
    REASSIGNABLE,
    REJECT_REASONS,
    check_details,
    check_handover,
    check_transition,
)
from shared.contracts import Outcome


class TestLifecycle:
    @pytest.mark.parametrize(
        ("current", "outcome"),
        [("open", "accepted"), ("open", "rejected"), ("accepted", "sql"), ("sql", "won"), ("sql", "lost")],
    )
    def test_forward_transitions_are_allowed(self, current: str, outcome: str) -> None:
        check_transition(current, outcome)  # type: ignore[arg-type]

    def test_won_before_accepted_is_illegal_and_names_the_next_states(self) -> None:
        with pytest.raises(IllegalTransition) as caught:
            check_transition("open", "won")
        assert caught.value.extensions["allowed"] == ["accepted", "recycled", "rejected"]

    @pytest.mark.parametrize("closed", ["won", "lost", "rejected", "recycled", "queued"])
    def test_nothing_follows_a_closed_or_queued_assignment(self, closed: str) -> None:
        with pytest.raises(IllegalTransition):
            check_transition(closed, "accepted")

    @pytest.mark.parametrize("current", ["open", "accepted", "sql"])
    def test_a_lead_is_recycled_to_nurture_from_any_stage_before_it_closes(self, current: str) -> None:
        check_transition(current, "recycled")

    def test_rejection_needs_a_code_from_the_fixed_list(self) -> None:
        for code in (None, "price", "went dark"):
            with pytest.raises(DispositionInvalid):
                check_details("rejected", reason_code=code, note="not our ICP", has_amount=False)
        for code in sorted(REJECT_REASONS):
            check_details("rejected", reason_code=code, note=None, has_amount=False)

    def test_a_loss_needs_a_loss_code_or_a_note(self) -> None:
        check_details("lost", reason_code="price", note=None, has_amount=False)
        check_details("lost", reason_code=None, note="went dark", has_amount=False)
        for code, note in ((None, "  "), ("student", None), ("other", None)):
            with pytest.raises(DispositionInvalid):
                check_details("lost", reason_code=code, note=note, has_amount=False)
        check_details("lost", reason_code="other", note="merged with a customer", has_amount=False)

    @pytest.mark.parametrize("outcome", ["accepted", "sql", "won", "recycled"])
    def test_only_rejections_and_losses_carry_a_code(self, outcome: Outcome) -> None:
        with pytest.raises(DispositionInvalid):
            check_details(outcome, reason_code="no_budget", note=None, has_amount=False)

    def test_only_a_win_carries_an_amount_and_a_currency_only_with_it(self) -> None:
        check_details("won", reason_code=None, note=None, has_amount=True, has_currency=True)
        check_details("won", reason_code=None, note=None, has_amount=False)
        with pytest.raises(DispositionInvalid):
            check_details("sql", reason_code=None, note=None, has_amount=True)
        with pytest.raises(DispositionInvalid):
            check_details("won", reason_code=None, note=None, has_amount=False, has_currency=True)

    def test_a_rep_declines_only_before_accepting_and_a_manager_reassigns_any_live_lead(self) -> None:
        check_handover("open", "declined", DECLINABLE)
        for status in ("accepted", "sql", "won", "queued"):
            with pytest.raises(IllegalTransition) as caught:
                check_handover(status, "declined", DECLINABLE)
            assert caught.value.extensions["allowed"] == ["open"]
        for status in ("open", "accepted", "sql", "queued"):
            check_handover(status, "reassigned", REASSIGNABLE)
        with pytest.raises(IllegalTransition) as closed:
            check_handover("won", "reassigned", REASSIGNABLE)
        assert closed.value.extensions["allowed"] == ["accepted", "open", "queued", "sql"]
