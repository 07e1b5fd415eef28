"""LinkedIn Lead Sync, parsed: notifications, lead form responses, and the lead form definitions
that say what each answer's `questionId` asks. Pure: no I/O here.

A form response carries answers keyed by `questionId` only; the form (`GET /leadForms/{id}`)
maps each question to a predefined field (EMAIL, FIRST_NAME, COMPANY_NAME...) or names a custom
question, and lists the options of multiple-choice questions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from services.ingest.providers import (
    Answers,
    PayloadInvalid,
    PlatformLead,
    as_dict,
    as_id,
    as_list,
    as_time,
)

LINKEDIN_FIELDS = {
    "EMAIL": "email",
    "WORK_EMAIL": "email",
    "FIRST_NAME": "first_name",
    "LAST_NAME": "last_name",
    "COMPANY_NAME": "company",
    "JOB_TITLE": "job_title",
    "PHONE_NUMBER": "phone",
    "WORK_PHONE_NUMBER": "phone",
    "COUNTRY": "country",
    "COMPANY_SIZE": "company_size",
    "INDUSTRY": "industry",
    "STATE": "state",
}
FORM_URN_PREFIX = "urn:li:leadGenForm:"


@dataclass(frozen=True)
class LinkedInNotification:
    action: str
    response_id: str
    form_id: str | None
    occurred_at: datetime | None


@dataclass(frozen=True)
class LinkedInQuestion:
    """One question of a lead form: the predefined field it fills, or a custom question's name."""

    name: str
    options: dict[str, str] = field(default_factory=dict)


def linkedin_notification(body: object) -> LinkedInNotification:
    """A Lead Sync notification: `leadAction` CREATED or DELETED and the form response's URN."""
    data = as_dict(body, "body")
    action = data.get("leadAction")
    if action not in ("CREATED", "DELETED"):
        raise PayloadInvalid("leadAction must be CREATED or DELETED")
    return LinkedInNotification(
        action=str(action),
        response_id=as_id(data.get("leadGenFormResponse"), "leadGenFormResponse"),
        form_id=str(data["leadGenForm"]) if data.get("leadGenForm") else None,
        occurred_at=as_time(data.get("occurredAt")),
    )


def form_number(form: str) -> str:
    """`urn:li:leadGenForm:77`, `urn:li:versionedLeadGenForm:(urn:li:leadGenForm:77,3)` or `77` -> `77`."""
    if FORM_URN_PREFIX in form:
        form = form.split(FORM_URN_PREFIX, 1)[1]
    number = form.split(",", 1)[0].strip("()")
    if not number.isdigit():
        raise PayloadInvalid(f"{form!r} is not a lead form id")
    return number


def response_form(notification: LinkedInNotification, response: object) -> str | None:
    """The lead form a response answers: the notification's, else the response's versioned URN."""
    versioned = as_dict(response, "lead form response").get("versionedLeadGenFormUrn")
    given = notification.form_id or (str(versioned) if versioned else None)
    return form_number(given) if given else None


def answered_questions(response: object) -> set[str]:
    """The question ids a response answers without naming the field (so the form is needed)."""
    answers = as_dict(as_dict(response, "lead form response").get("formResponse"), "formResponse")
    return {
        as_id(answer.get("questionId"), "questionId")
        for answer in as_list(answers.get("answers"), "formResponse.answers")
        if isinstance(answer, dict) and not answer.get("predefinedField") and "questionId" in answer
    }


def linkedin_form_questions(form: object) -> dict[str, LinkedInQuestion]:
    """The questions of a lead form (`GET /leadForms/{id}`) by question id."""
    content = as_dict(as_dict(form, "lead form").get("content", {}), "content")
    questions: dict[str, LinkedInQuestion] = {}
    for item in as_list(content.get("questions", []), "content.questions"):
        question = as_dict(item, "content.questions[]")
        question_id = as_id(question.get("questionId"), "questionId")
        details = as_dict(question.get("questionDetails", {}), "questionDetails")
        choices = as_dict(details.get("multipleChoiceQuestionDetails", {}), "multipleChoiceQuestionDetails")
        options = {
            as_id(option.get("id"), "options[].id"): _text(option.get("text"))
            for option in as_list(choices.get("options", []), "options")
            if isinstance(option, dict)
        }
        name = question.get("predefinedField") or question.get("name") or f"question_{question_id}"
        questions[question_id] = LinkedInQuestion(name=_text(name), options=options)
    return questions


def linkedin_lead(
    notification: LinkedInNotification,
    response: object,
    questions: dict[str, LinkedInQuestion] | None = None,
) -> PlatformLead:
    """A lead form response, each answer named by its predefined field or, through the form's
    `questions`, by what its `questionId` asks (custom questions are kept as attributes)."""
    data = as_dict(response, "lead form response")
    questions = questions or {}
    answers = Answers()
    form_response = as_dict(data.get("formResponse"), "formResponse")
    for item in as_list(form_response.get("answers"), "formResponse.answers"):
        answer = as_dict(item, "answers[]")
        question_id = str(answer.get("questionId", ""))
        question = questions.get(question_id, LinkedInQuestion(name=f"question_{question_id}"))
        name = answer.get("predefinedField") or question.name
        value = _answer_value(as_dict(answer.get("answerDetails", {}), "answerDetails"), question)
        if value is not None:
            answers.put(str(name), value, LINKEDIN_FIELDS.get(str(name)))
    fields = answers.fields
    consent = linkedin_consent(form_response)
    if consent is not None:
        fields["consent"] = consent
    metadata = as_dict(data.get("leadMetadata", {}), "leadMetadata")
    campaign = as_dict(metadata.get("sponsoredLeadMetadata", {}), "sponsoredLeadMetadata").get("campaign")
    utm = {"source": "linkedin", "medium": "paid_social"}
    if campaign:
        utm["campaign"] = str(campaign).rpartition(":")[2]
    return PlatformLead(
        external_id=notification.response_id,
        form_id=notification.form_id,
        fields=fields,
        utm=utm,
        is_test=data.get("testLead") is True,
        submitted_at=as_time(data.get("submittedAt")),
        answers=answers.raw,
        origins=answers.origins,
    )


def linkedin_consent(form_response: dict[str, Any]) -> bool | None:
    """The member's answers to the form's consent checkboxes (`consentResponses[]`, each
    `{"consentId", "accepted"}`): true only if every consent asked was accepted; None when the
    form asked none."""
    responses = [
        r
        for r in as_list(form_response.get("consentResponses") or [], "consentResponses")
        if isinstance(r, dict)
    ]
    if not responses:
        return None
    return all(r.get("accepted") is True for r in responses)


def _answer_value(details: dict[str, Any], question: LinkedInQuestion) -> str | None:
    text = as_dict(details.get("textQuestionAnswer", {}), "textQuestionAnswer").get("answer")
    if text is not None:
        return str(text)
    choice = as_dict(details.get("multipleChoiceAnswer", {}), "multipleChoiceAnswer").get("options")
    if choice:
        return ", ".join(question.options.get(str(o), str(o)) for o in as_list(choice, "options"))
    return None


def _text(value: object) -> str:
    # Form texts are MultiLocaleStrings: {"localized": {"en_US": "..."}, "preferredLocale": ...}.
    if isinstance(value, dict):
        localized = value.get("localized")
        if isinstance(localized, dict) and localized:
            return str(next(iter(localized.values())))
    return str(value)
