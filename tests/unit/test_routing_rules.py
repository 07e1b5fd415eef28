"""Eligibility (switch, capacity, working hours) and the assignment lifecycle."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time

import pytest

from services.routing.eligibility import RepAvailability, skip_reason, within_working_hours
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

REP = uuid.UUID(int=1)
# A Monday: 14:00 UTC is 09:00 in New York and 23:00 in Tokyo.
MONDAY_1400_UTC = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)


def nine_to_five(tz: str, **overrides: object) -> RepAvailability:
    values: dict[str, object] = {
        "rep_id": REP,
        "active": True,
        "timezone": tz,
        "work_start": time(9),
        "work_end": time(17),
        **overrides,
    }
    return RepAvailability(**values)  # type: ignore[arg-type]


class TestSkipReason:
    def test_available_rep_is_not_skipped(self) -> None:
        assert skip_reason(nine_to_five("America/New_York"), at=MONDAY_1400_UTC) is None

    def test_switched_off_rep_is_inactive(self) -> None:
        assert skip_reason(RepAvailability(REP, active=False), at=MONDAY_1400_UTC) == "inactive"

    def test_rep_out_of_office_is_away(self) -> None:
        assert skip_reason(RepAvailability(REP, active=True, away=True), at=MONDAY_1400_UTC) == "away"

    def test_rep_at_their_cap_is_capped(self) -> None:
        rep = RepAvailability(REP, active=True, max_open=3, open_count=3)
        assert skip_reason(rep, at=MONDAY_1400_UTC) == "capped"

    def test_rep_below_their_cap_is_not(self) -> None:
        rep = RepAvailability(REP, active=True, max_open=3, open_count=2)
        assert skip_reason(rep, at=MONDAY_1400_UTC) is None

    def test_hours_are_read_in_the_reps_own_time_zone(self) -> None:
        assert skip_reason(nine_to_five("Asia/Tokyo"), at=MONDAY_1400_UTC) == "outside_hours"

    def test_weekend_is_outside_hours(self) -> None:
        saturday = datetime(2026, 11, 28, 15, 0, tzinfo=UTC)
        assert not within_working_hours(nine_to_five("UTC"), saturday)

    def test_night_shift_spans_midnight(self) -> None:
        night = nine_to_five("UTC", work_start=time(22), work_end=time(6))
        assert within_working_hours(night, datetime(2026, 11, 23, 23, 0, tzinfo=UTC))
        assert within_working_hours(night, datetime(2026, 11, 24, 5, 0, tzinfo=UTC))
        assert not within_working_hours(night, datetime(2026, 11, 24, 7, 0, tzinfo=UTC))
        # Saturday 03:00 is the tail of Friday's shift; Sunday 03:00 belongs to no shift.
        assert within_working_hours(night, datetime(2026, 11, 28, 3, 0, tzinfo=UTC))
        assert not within_working_hours(night, datetime(2026, 11, 29, 3, 0, tzinfo=UTC))

    def test_rep_without_hours_is_always_available(self) -> None:
        assert within_working_hours(RepAvailability(REP, active=True), datetime(2026, 11, 29, 3, tzinfo=UTC))


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
