"""Each platform's documented payload parsed into one platform lead."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from services.ingest.errors import WebhookPayloadInvalid
from services.ingest.form_builders import unbounce_lead, unbounce_time, webflow_lead
from services.ingest.labels import as_text, field_for_label
from services.ingest.linkedin import linkedin_consent, linkedin_lead, linkedin_notification
from services.ingest.platforms import Permanent, Transient, classify_graph_error
from services.ingest.providers import (
    PayloadInvalid,
    PlatformLead,
    facebook_changes,
    facebook_consent,
    facebook_lead,
    google_ads_lead,
    hubspot_lead,
    typeform_lead,
)
from services.ingest.webhooks import apply_field_map, coerce_fields, validated_submission


def facebook_notification(leadgen_id: Any) -> dict[str, Any]:
    return {
        "object": "page",
        "entry": [
            {
                "id": "153125381133",
                "time": 1438292065,
                "changes": [
                    {
                        "field": "leadgen",
                        "value": {
                            "leadgen_id": leadgen_id,
                            "page_id": 153125381133,
                            "form_id": 123456789,
                            "adgroup_id": 987,
                            "ad_id": 987,
                            "created_time": 1438292065,
                        },
                    }
                ],
            }
        ],
    }


GRAPH_LEAD = {
    "created_time": "2026-11-23T09:30:00+0000",
    "id": "4455",
    "ad_id": "987",
    "campaign_name": "Q4 demand",
    "form_id": "123456789",
    "field_data": [
        {"name": "email", "values": ["Ada@Analytical.example"]},
        {"name": "full_name", "values": ["Ada Lovelace"]},
        {"name": "company_name", "values": ["Analytical Engines"]},
        {"name": "job_title", "values": ["VP Engineering"]},
        {"name": "how_soon", "values": ["this quarter"]},
    ],
}


class TestFacebook:
    @pytest.mark.parametrize("leadgen_id", [4455, "4455"])
    def test_ids_may_be_numbers_or_strings(self, leadgen_id: Any) -> None:
        [change] = facebook_changes(facebook_notification(leadgen_id))
        assert change.leadgen_id == "4455"
        assert change.form_id == "123456789"

    def test_graph_lead_maps_standard_fields_and_keeps_custom_ones(self) -> None:
        [change] = facebook_changes(facebook_notification(4455))
        lead = facebook_lead(change, GRAPH_LEAD)
        assert lead.fields["email"] == "Ada@Analytical.example"
        assert lead.fields["full_name"] == "Ada Lovelace"
        assert lead.fields["company"] == "Analytical Engines"
        assert lead.fields["how_soon"] == "this quarter"
        assert lead.utm["campaign"] == "Q4 demand"
        assert lead.submitted_at is not None

    def test_other_fields_are_ignored_and_garbage_refused(self) -> None:
        assert facebook_changes({"entry": [{"changes": [{"field": "feed", "value": {}}]}]}) == []
        with pytest.raises(PayloadInvalid):
            facebook_changes({"entry": "nope"})
        with pytest.raises(PayloadInvalid):
            facebook_changes(facebook_notification(None))


GOOGLE = {
    "lead_id": "TeSter-123-ABCDEFGHIJKLMNOPQRSTUVWXYZ-abcdefghijklmnopqrstuvwxyz-0123456789-AaBbCcDdEeFfGgHhIiJjKkLl",
    "user_column_data": [
        {"column_name": "Full Name", "string_value": "Grace Hopper", "column_id": "FULL_NAME"},
        {"column_name": "User Email", "string_value": "grace@navy.example", "column_id": "EMAIL"},
        {"column_name": "Company Name", "string_value": "US Navy", "column_id": "COMPANY_NAME"},
        {"column_name": "Budget", "string_value": "50k", "column_id": "BUDGET"},
    ],
    "api_version": "1.0",
    "form_id": 40000000,
    "campaign_id": 20000000,
    "google_key": "secret",
    "is_test": True,
    "gcl_id": "gclid-1",
    "adgroup_id": 20000000,
    "creative_id": 30000000,
}


def test_google_ads_columns_by_id_and_test_flag() -> None:
    lead = google_ads_lead(GOOGLE)
    assert lead.fields == {
        "full_name": "Grace Hopper",
        "email": "grace@navy.example",
        "company": "US Navy",
        "budget": "50k",
    }
    assert lead.is_test
    assert lead.form_id == "40000000"
    assert lead.utm["campaign"] == "20000000"


def test_hubspot_fields_context_and_consent() -> None:
    body = {
        "submittedAt": 1700000000000,
        "fields": [
            {"objectTypeId": "0-1", "name": "email", "value": "ada@analytical.example"},
            {"objectTypeId": "0-1", "name": "firstname", "value": "Ada"},
            {"objectTypeId": "0-1", "name": "company", "value": "Analytical Engines"},
        ],
        "context": {
            "hutk": "hutk-1",
            "pageUri": "https://www.example.com/demo?utm_campaign=q4",
            "pageName": "Demo",
        },
        "legalConsentOptions": {
            "consent": {
                "consentToProcess": True,
                "text": "I agree",
                "communications": [{"value": True, "subscriptionTypeId": 999, "text": "Emails"}],
            }
        },
    }
    lead = hubspot_lead(body, external_id="x", form_id="guid")
    assert lead.fields["first_name"] == "Ada"
    assert lead.fields["visitor_id"] == "hutk-1"
    assert lead.fields["consent"] is True
    assert lead.attributes == {"page_name": "Demo"}


def test_typeform_typed_answers_by_ref() -> None:
    body = {
        "event_id": "01H",
        "event_type": "form_response",
        "form_response": {
            "form_id": "lT4Z3j",
            "token": "a3a12ec67a1365927098a606107fac15",
            "submitted_at": "2026-11-23T09:30:00Z",
            "hidden": {"utm_campaign": "q4"},
            "answers": [
                {"type": "email", "email": "ada@analytical.example", "field": {"id": "1", "type": "email"}},
                {
                    "type": "text",
                    "text": "Ada",
                    "field": {"id": "2", "type": "short_text", "ref": "first_name"},
                },
                {
                    "type": "number",
                    "number": 250,
                    "field": {"id": "3", "type": "number", "ref": "company_size"},
                },
                {
                    "type": "boolean",
                    "boolean": True,
                    "field": {"id": "4", "type": "yes_no", "ref": "consent"},
                },
                {"type": "choice", "choice": {"label": "GB"}, "field": {"id": "5", "ref": "country"}},
                {
                    "type": "choices",
                    "choices": {"labels": ["A", "B"]},
                    "field": {"id": "6", "ref": "interests"},
                },
            ],
        },
    }
    lead = typeform_lead(body)
    assert lead.external_id == "a3a12ec67a1365927098a606107fac15"
    assert lead.fields == {
        "email": "ada@analytical.example",
        "first_name": "Ada",
        "company_size": 250,
        "consent": True,
        "country": "GB",
        "interests": "A, B",
        "utm_campaign": "q4",
    }


def test_linkedin_notification_and_form_response() -> None:
    notification = linkedin_notification(
        {
            "type": "LEAD_ACTION",
            "leadGenFormResponse": "urn:li:leadGenFormResponse:(urn:li:sponsoredAccount:1,abc)",
            "leadGenForm": "urn:li:leadGenForm:77",
            "leadAction": "CREATED",
            "occurredAt": 1700000000000,
        }
    )
    assert notification.action == "CREATED"
    lead = linkedin_lead(
        notification,
        {
            "testLead": False,
            "submittedAt": 1700000000000,
            "formResponse": {
                "answers": [
                    {
                        "predefinedField": "EMAIL",
                        "answerDetails": {"textQuestionAnswer": {"answer": "a@b.example"}},
                    },
                    {
                        "predefinedField": "FIRST_NAME",
                        "answerDetails": {"textQuestionAnswer": {"answer": "Ada"}},
                    },
                    {"questionId": 9, "answerDetails": {"textQuestionAnswer": {"answer": "soon"}}},
                ]
            },
            "leadMetadata": {"sponsoredLeadMetadata": {"campaign": "urn:li:sponsoredCampaign:555"}},
        },
    )
    assert lead.fields == {"email": "a@b.example", "first_name": "Ada", "question_9": "soon"}
    assert lead.utm["campaign"] == "555"
    with pytest.raises(PayloadInvalid):
        linkedin_notification({"leadAction": "UPDATED", "leadGenFormResponse": "x"})


def test_webflow_fields_are_matched_by_label() -> None:
    lead = webflow_lead(
        {
            "triggerType": "form_submission",
            "payload": {
                "name": "Contact Us",
                "data": {
                    "Email Address": "a@b.example",
                    "Your Name": "Ada Lovelace",
                    "Phone Number": 15550000000,
                },
                "id": "6321ca84df3949bfc6752327",
                "formId": "f1",
            },
        }
    )
    assert lead.fields == {"email": "a@b.example", "full_name": "Ada Lovelace", "phone": 15550000000}
    assert lead.external_id == "6321ca84df3949bfc6752327"
    with pytest.raises(PayloadInvalid):
        webflow_lead({"triggerType": "site_publish", "payload": {}})


def test_unbounce_values_arrive_as_arrays() -> None:
    form = {
        "data.json": '{"email": ["a@b.example"], "first_name": ["Ada"], "interests": ["x", "y"]}',
        "page_id": "p1",
        "page_url": "https://lp.example.com/?utm_source=google",
    }
    lead = unbounce_lead(form, external_id="digest")
    assert lead.fields == {
        "email": "a@b.example",
        "first_name": "Ada",
        "interests": "x, y",
        "page_url": "https://lp.example.com/?utm_source=google",
    }
    assert lead.attributes == {"page_id": "p1"}
    with pytest.raises(PayloadInvalid):
        unbounce_lead({"data.json": "{"}, external_id="x")


class TestTypeformDefinition:
    BODY: dict[str, Any] = {
        "form_response": {
            "form_id": "f",
            "token": "t",
            "definition": {
                "fields": [
                    {"id": "a", "title": "What is your first name?", "type": "short_text", "ref": "q1"},
                    {"id": "b", "title": "Your company", "type": "short_text", "ref": "q2"},
                    {"id": "c", "title": "Budget?", "type": "short_text", "ref": "budget_q"},
                    {"id": "d", "title": "Terms", "type": "legal", "ref": "terms"},
                ]
            },
            "answers": [
                {"type": "text", "text": "Laura", "field": {"id": "a", "type": "short_text"}},
                {"type": "text", "text": "Acme", "field": {"id": "b", "type": "short_text"}},
                {"type": "text", "text": "50k", "field": {"id": "c", "type": "short_text"}},
                {"type": "boolean", "boolean": False, "field": {"id": "d", "type": "legal"}},
                {"type": "email", "email": "l@example.com", "field": {"id": "e", "type": "email"}},
            ],
        }
    }

    def test_answers_known_only_by_id_are_named_through_the_definition(self) -> None:
        lead = typeform_lead(self.BODY)
        assert lead.fields == {
            "first_name": "Laura",
            "company": "Acme",
            "budget_q": "50k",
            "consent": False,
            "email": "l@example.com",
        }
        assert lead.answers["q1"] == "Laura"
        assert lead.origins["first_name"] == "q1"

    def test_a_second_answer_for_a_filled_field_stays_under_its_own_name(self) -> None:
        body = {"form_response": {"token": "t", "answers": [
            {"type": "email", "email": "a@example.com", "field": {"id": "1", "ref": "work"}},
            {"type": "email", "email": "b@example.com", "field": {"id": "2", "ref": "home"}},
        ]}}  # fmt: skip
        assert typeform_lead(body).fields == {"email": "a@example.com", "home": "b@example.com"}


class TestLabels:
    @pytest.mark.parametrize(
        ("label", "field"),
        [
            ("Email Address", "email"),
            ("What is your first name?", "first_name"),
            ("What's your company name?", "company"),
            ("please give us your email address.", "email"),
            ("Which of these cities is your favorite?", None),
        ],
    )
    def test_a_label_names_a_field_exactly_or_as_the_end_of_a_question(
        self, label: str, field: str | None
    ) -> None:
        assert field_for_label(label) == field

    @pytest.mark.parametrize(
        ("value", "text"),
        [
            (15550000000, "15550000000"),
            (True, "true"),
            (["A", 2], "A, 2"),
            ({"b": 1}, '{"b": 1}'),
            (None, None),
        ],
    )
    def test_any_json_value_becomes_text(self, value: Any, text: str | None) -> None:
        assert as_text(value) == text


class TestGraphErrors:
    def test_the_documented_oauth_error_is_permanent(self) -> None:
        body = {"error": {"message": "Message describing the error", "type": "OAuthException", "code": 190,
                          "error_subcode": 460, "fbtrace_id": "EJplcsCHuLu"}}  # fmt: skip
        failure = classify_graph_error(400, body)
        assert isinstance(failure, Permanent)
        assert "code 190" in failure.reason

    @pytest.mark.parametrize(
        ("status", "body"),
        [
            (400, {"error": {"code": 4, "message": "(#4) Application request limit reached"}}),
            (400, {"error": {"code": 100, "is_transient": True}}),
            (400, {"error": {"code": 17}}),
            (500, {"error": {"code": 1, "message": "An unknown error occurred"}}),
            (429, "Too Many Requests"),
            (None, "timeout"),
        ],
    )
    def test_throttling_downtime_and_is_transient_are_transient(self, status: int | None, body: Any) -> None:
        assert isinstance(classify_graph_error(status, body), Transient)

    @pytest.mark.parametrize("code", [100, 190, 10, 200])
    def test_missing_objects_dead_tokens_and_permissions_are_permanent(self, code: int) -> None:
        assert isinstance(classify_graph_error(400, {"error": {"code": code}}), Permanent)


class TestConsentAndTime:
    def test_linkedin_consent_is_every_consent_accepted(self) -> None:
        assert linkedin_consent({"consentResponses": [{"consentId": 1, "accepted": True}]}) is True
        both = [{"consentId": 1, "accepted": True}, {"consentId": 2, "accepted": False}]
        assert linkedin_consent({"consentResponses": both}) is False
        assert linkedin_consent({"consentResponses": []}) is None

    def test_meta_consent_is_every_disclaimer_box_checked(self) -> None:
        assert facebook_consent([{"checkbox_key": "k1", "is_checked": "1"}]) is True
        assert facebook_consent([{"checkbox_key": "k1", "is_checked": "0"}]) is False
        assert facebook_consent(None) is None

    def test_unbounce_date_and_time_are_one_instant(self) -> None:
        assert unbounce_time("2014-07-01", "04:17 PM UTC") == datetime(2014, 7, 1, 16, 17, tzinfo=UTC)
        assert unbounce_time(None, "04:17 PM UTC") is None
        assert unbounce_time("2014-07-01", "teatime") is None

    def test_google_lead_submit_time_is_the_submission_time(self) -> None:
        lead = google_ads_lead(
            {"lead_id": "1", "user_column_data": [], "lead_submit_time": "2024-09-26T12:30:00Z"}
        )
        assert lead.submitted_at == datetime(2024, 9, 26, 12, 30, tzinfo=UTC)


class TestFieldMaps:
    def test_a_mapped_answer_replaces_what_was_guessed_from_it(self) -> None:
        lead = webflow_lead(
            {
                "triggerType": "form_submission",
                "payload": {"id": "1", "data": {"Name": "Ada L", "Org": "Acme"}},
            }
        )
        mapped = apply_field_map(lead, {"Name": "last_name", "Org": "company"}, {})
        assert mapped.fields == {"last_name": "Ada L", "company": "Acme"}

    def test_utm_fields_map_hidden_answers_to_utm_tags(self) -> None:
        lead = webflow_lead(
            {"triggerType": "form_submission", "payload": {"id": "1", "data": {"Camp": "q4"}}}
        )
        assert apply_field_map(lead, {}, {"Camp": "campaign"}).fields == {"utm_campaign": "q4"}


class TestMisfitFields:
    def test_a_field_of_the_wrong_shape_becomes_an_attribute_not_a_refusal(self) -> None:
        lead = PlatformLead(external_id="1", form_id=None, fields={})
        attributes: dict[str, str] = {}
        fields = coerce_fields({"email": "a@example.com", "company_size": "lots", "phone": 15550000000})
        submission = validated_submission("webflow", lead, fields, attributes)
        assert (submission.phone, submission.company_size) == ("15550000000", None)
        assert attributes == {"company_size": "lots"}

    def test_a_bad_email_still_refuses_the_lead(self) -> None:
        lead = PlatformLead(external_id="1", form_id=None, fields={})
        with pytest.raises(WebhookPayloadInvalid):
            validated_submission("webflow", lead, {"email": "not-an-email"}, {})
