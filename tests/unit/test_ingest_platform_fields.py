"""What the platforms send, made into leads without losing an answer: Typeform answers named
through the form's definition, labels matched to fields, any JSON type kept as text, permanent
Graph errors told from transient ones, consent and the platform's own time, admin field maps."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from services.ingest.errors import WebhookPayloadInvalid
from services.ingest.form_builders import unbounce_time, webflow_lead
from services.ingest.labels import as_text, field_for_label
from services.ingest.linkedin import linkedin_consent
from services.ingest.platform_leads import (
    apply_field_map,
    coerce_fields,
    form_config_suffix,
    validated_submission,
)
from services.ingest.platforms import Permanent, Transient, classify_graph_error
from services.ingest.providers import PlatformLead, facebook_consent, google_ads_lead, typeform_lead


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
    @pytest.mark.parametrize(
        ("form_id", "suffix"),
        [
            ("lT4Z3j", "lT4Z3j"),
            ("urn:li:leadGenForm:77", "77"),
            ("urn:li:versionedLeadGenForm:(urn:li:leadGenForm:3213, 1)", "3213"),
        ],
    )
    def test_a_platform_form_id_becomes_the_suffix_of_its_field_map_form(
        self, form_id: str, suffix: str
    ) -> None:
        assert form_config_suffix(form_id) == suffix

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
