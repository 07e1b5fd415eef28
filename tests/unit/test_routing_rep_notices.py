"""What a rep is told of a lead: one row per channel they chose, rendered for Slack and email with
the lead, why it qualified, the deadline in the rep's own time zone and links to act on it."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from services.routing.models import Rep
from services.routing.rep_notices import email_message, notice_rows, slack_message

DUE = datetime(2026, 11, 23, 14, 30, tzinfo=UTC)
LEAD = {
    "email": "grace@analytical.example",
    "first_name": "Grace",
    "last_name": "Hopper",
    "company": "Analytical",
}
WHY = {"grade": "A", "score": 82.5, "sla_tier": "hot"}


def rep(**fields: Any) -> Rep:
    values: dict[str, Any] = {
        "id": uuid.uuid4(),
        "name": "Ada",
        "email": "ada@example.com",
        "timezone": "America/New_York",
        "slack_webhook_url": None,
        "slack_user_id": None,
        "notify_channels": ["slack", "email"],
        **fields,
    }
    return Rep(**values)


def rows(holder: Rep, **extra: Any) -> list[dict[str, Any]]:
    return notice_rows(
        holder,
        kind=extra.pop("kind", "lead.assigned"),
        at=DUE,
        assignment_id=uuid.UUID(int=7),
        lead_id=uuid.UUID(int=9),
        lead=LEAD,
        qualification=WHY,
        sla_due_at=DUE,
        **extra,
    )


class TestNoticeRows:
    def test_a_rep_who_chose_no_channel_gets_none(self) -> None:
        assert rows(rep(notify_channels=[])) == []

    def test_one_row_per_channel_addressed_to_the_rep(self) -> None:
        holder = rep(slack_webhook_url="https://hooks.slack.com/services/T0/B0/ada")
        by_channel = {row["channel"]: row for row in rows(holder)}
        assert by_channel["slack"]["recipient"] == "https://hooks.slack.com/services/T0/B0/ada"
        assert by_channel["email"]["recipient"] == "ada@example.com"
        assert {row["rep_id"] for row in by_channel.values()} == {holder.id}
        # The lead's own email address is never part of what reps are sent.
        assert "grace@analytical.example" not in json.dumps(by_channel["slack"]["message"])


class TestRendering:
    def test_slack_mentions_the_rep_and_gives_the_deadline_in_their_time_zone(self) -> None:
        (slack, _) = rows(rep(slack_user_id="U024BE7LH"))
        message = slack_message(slack["message"], public_url="https://baton.example.com/")
        assert message["text"] == "<@U024BE7LH> New lead for you: Grace Hopper at Analytical."
        details = message["blocks"][1]["text"]["text"]
        assert details == (
            "Qualified with grade A, score 82.5, hot tier\n"
            "First touch due by Mon 23 Nov 2026, 09:30 (America/New_York)"
        )
        actions = message["blocks"][2]["elements"][0]["text"]
        assert (
            "<https://baton.example.com/v1/leads/00000000-0000-0000-0000-000000000009/assignment|The lead>"
            in actions
        )

    def test_without_a_slack_user_id_the_message_names_the_rep(self) -> None:
        (slack, _) = rows(rep())
        assert slack_message(slack["message"], public_url="https://b.example")["text"].startswith(
            "Ada New lead"
        )

    def test_the_old_holder_hears_who_took_the_lead_and_why(self) -> None:
        (slack, _) = rows(rep(), kind="lead.handed_over", handover="declined", other_rep="Bob")
        text = slack_message(slack["message"], public_url="https://b.example")["text"]
        assert text == (
            "Ada Grace Hopper at Analytical was handed over to Bob: you declined it. "
            "You need not act on it any more."
        )

    def test_the_accept_reminder_asks_for_an_answer_by_the_agreement_deadline(self) -> None:
        (slack, _) = rows(rep(), kind="accept.reminder", fraction=0.5)
        message = slack_message(slack["message"], public_url="https://b.example")
        assert message["text"] == (
            "Ada Reminder: accept or reject Grace Hopper at Analytical "
            "(50 % of the time the agreement gives you gone)."
        )
        assert message["blocks"][1]["text"]["text"].endswith(
            "Accept or reject due by Mon 23 Nov 2026, 09:30 (America/New_York)"
        )

    def test_the_email_goes_to_the_rep_alone(self) -> None:
        (_, email) = rows(rep())
        message = email_message(
            email["message"], public_url="https://b.example", to="ada@example.com", sender="baton@b.example"
        )
        assert (message["To"], message["From"]) == ("ada@example.com", "baton@b.example")
        assert message["Subject"] == "New lead for you: Grace Hopper at Analytical."
        body = message.get_content()
        assert "First touch due by Mon 23 Nov 2026, 09:30 (America/New_York)." in body
        assert "https://b.example/v1/assignments/00000000-0000-0000-0000-000000000007/accept" in body
