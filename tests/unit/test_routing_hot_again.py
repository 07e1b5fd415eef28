"""What makes a held lead hot again, and how a notice shows the lead's brief."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace
from typing import Any, cast

from services.routing import hot_again, rep_notices
from services.routing.models import Assignment
from shared.contracts import utc_now


def held(status: str = "open") -> Assignment:
    return cast(Assignment, SimpleNamespace(status=status, assigned_at=utc_now()))


class TestHotAgain:
    def test_a_pricing_page_view_is_high_intent(self) -> None:
        assert hot_again.activity_reason("page_view", {"page_path": "/pricing"}) == "visited the pricing page"
        assert hot_again.activity_reason("page_view", {"page_path": "/blog"}) is None
        assert hot_again.activity_reason("content_download", {"page_path": "/pricing"}) is None

    def test_the_agreement_names_the_pages_and_the_hand_raiser_events(self) -> None:
        pages = ["/pricing", "/demo"]
        assert (
            hot_again.activity_reason("page_view", {"page_path": "/demo/book"}, pages=pages)
            == "visited /demo"
        )
        assert hot_again.activity_reason("page_view", {"page_path": "/pricing"}, pages=["/demo"]) is None
        assert hot_again.activity_reason("page_view", {"page_path": "/pricing"}, pages=[]) is None
        raised = hot_again.activity_reason("event_attended", {}, hand_raiser_activities=["event_attended"])
        assert raised == "raised a hand (event attended)"

    def test_a_hand_raiser_form_is_high_intent(self) -> None:
        assert hot_again.form_reason(is_hand_raiser=True, form_id="demo-request") == (
            "asked to talk to sales (form demo-request)"
        )
        assert hot_again.form_reason(is_hand_raiser=False, form_id="newsletter") is None

    def test_a_score_jump_counts_from_the_threshold(self) -> None:
        assert hot_again.score_jump_reason(50, 70, threshold=20) == "its score jumped from 50 to 70"
        assert hot_again.score_jump_reason(50, 69, threshold=20) is None
        assert hot_again.score_jump_reason(None, 90, threshold=20) is None

    def test_only_what_happens_after_the_assignment_of_a_held_lead_counts(self) -> None:
        assignment = held()
        assert hot_again.is_held_since(assignment, assignment.assigned_at + timedelta(seconds=1))
        assert not hot_again.is_held_since(assignment, assignment.assigned_at - timedelta(seconds=1))
        assert not hot_again.is_held_since(held("sql"), utc_now() + timedelta(seconds=1))
        assert not hot_again.is_held_since(None, utc_now())


class TestBriefLines:
    def test_a_notice_shows_the_rules_the_answers_and_the_latest_activities(self) -> None:
        notice: dict[str, Any] = {
            "brief": {
                "why": [
                    {"reason": "Asked to talk to sales", "points": 30},
                    {"reason": "Free mail", "points": -20},
                ],
                "form_answers": {"job_title": "CTO"},
                "timeline": [
                    {
                        "activity_type": "page_view",
                        "occurred_at": "2026-12-07T09:15:00+00:00",
                        "subject": "/pricing",
                        "campaign": "spring-sale",
                    }
                ],
            }
        }
        assert rep_notices.brief_lines(notice) == [
            "Why: Asked to talk to sales (+30); Free mail (-20)",
            "Answers: job_title: CTO",
            "- 2026-12-07 09:15 page_view /pricing (campaign spring-sale)",
        ]
        assert rep_notices.brief_lines({}) == []

    def test_a_hot_again_notice_says_what_the_lead_did(self) -> None:
        notice = {
            "kind": "hot_again",
            "hot": "visited the pricing page",
            "lead": {"name": "Grace", "company": "Analytical"},
        }
        assert rep_notices.headline(notice) == "Hot again: Grace at Analytical visited the pricing page."
