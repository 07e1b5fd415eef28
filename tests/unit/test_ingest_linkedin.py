"""LinkedIn lead form responses joined to their form's questions by `questionId`."""

from __future__ import annotations

from typing import Any

import pytest

from services.ingest.linkedin import (
    answered_questions,
    form_number,
    linkedin_form_questions,
    linkedin_lead,
    linkedin_notification,
    response_form,
)
from services.ingest.providers import PayloadInvalid

# Shaped as LinkedIn's `GET /leadForms/{id}` documents it (content.questions[]).
FORM: dict[str, Any] = {
    "id": 77,
    "name": "Demo request",
    "content": {
        "questions": [
            {"questionId": 101, "name": "firstName", "predefinedField": "FIRST_NAME"},
            {"questionId": 102, "name": "email", "predefinedField": "EMAIL"},
            {"questionId": 103, "name": "company", "predefinedField": "COMPANY_NAME"},
            {"questionId": 104, "name": "title", "predefinedField": "JOB_TITLE"},
            {
                "questionId": 105,
                "name": "Team size",
                "question": {"localized": {"en_US": "How big is your team?"}},
                "questionDetails": {
                    "multipleChoiceQuestionDetails": {
                        "options": [
                            {"id": 1, "text": {"localized": {"en_US": "1-10"}}},
                            {"id": 2, "text": {"localized": {"en_US": "11-200"}}},
                        ]
                    }
                },
            },
            {"questionId": 106, "name": "Timeline"},
        ]
    },
}


def answer(question_id: int, text: str) -> dict[str, Any]:
    return {"questionId": question_id, "answerDetails": {"textQuestionAnswer": {"answer": text}}}


def response() -> dict[str, Any]:
    return {
        "versionedLeadGenFormUrn": "urn:li:versionedLeadGenForm:(urn:li:leadGenForm:77,3)",
        "submittedAt": 1700000000000,
        "formResponse": {
            "answers": [
                answer(101, "Ada"),
                answer(102, "ada@analytical.example"),
                answer(103, "Analytical Engines"),
                answer(104, "VP Engineering"),
                {"questionId": 105, "answerDetails": {"multipleChoiceAnswer": {"options": [2]}}},
                answer(106, "this quarter"),
            ]
        },
    }


def notification(form: str | None = "urn:li:leadGenForm:77") -> Any:
    body = {
        "leadAction": "CREATED",
        "leadGenFormResponse": "urn:li:leadGenFormResponse:(urn:li:sponsoredAccount:1,x)",
    }
    return linkedin_notification({**body, **({"leadGenForm": form} if form else {})})


def test_answers_keyed_by_question_id_fill_the_predefined_fields() -> None:
    lead = linkedin_lead(notification(), response(), linkedin_form_questions(FORM))
    assert lead.fields == {
        "first_name": "Ada",
        "email": "ada@analytical.example",
        "company": "Analytical Engines",
        "job_title": "VP Engineering",
        "Team size": "11-200",
        "Timeline": "this quarter",
    }


def test_without_the_form_custom_answers_keep_their_question_id() -> None:
    lead = linkedin_lead(notification(), response())
    assert lead.fields["question_106"] == "this quarter"
    assert lead.fields["question_105"] == "2"


def test_the_form_comes_from_the_notification_or_the_versioned_urn() -> None:
    assert response_form(notification(), response()) == "77"
    assert response_form(notification(form=None), response()) == "77"
    assert form_number("12345") == "12345"
    assert answered_questions(response()) == {"101", "102", "103", "104", "105", "106"}
    with pytest.raises(PayloadInvalid):
        form_number("urn:li:leadGenForm:abc")


def test_a_malformed_form_definition_is_a_payload_error() -> None:
    with pytest.raises(PayloadInvalid):
        linkedin_form_questions({"content": {"questions": [{"name": "no id"}]}})
