"""Each platform's documented payload parsed into one platform lead."""

from __future__ import annotations

from typing import Any

import pytest

from services.ingest.form_builders import unbounce_lead, webflow_lead
from services.ingest.linkedin import linkedin_lead, linkedin_notification
from services.ingest.providers import (
    PayloadInvalid,
    facebook_changes,
    facebook_lead,
    google_ads_lead,
    hubspot_lead,
    typeform_lead,
)


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
