"""A platform's lead becomes a submission without losing a field to its JSON type."""

from __future__ import annotations

import pytest

from services.ingest.errors import WebhookPayloadInvalid
from services.ingest.platform_leads import prepare_platform_lead
from services.ingest.providers import PlatformLead


class TestPreparePlatformLead:
    def test_a_number_where_text_is_expected_is_read_as_text(self) -> None:
        lead = PlatformLead("sub-1", "form-1", {"email": "ada@example.com", "phone": 14155550123})
        prepared = prepare_platform_lead("webflow", lead)
        assert prepared.payload.phone == "14155550123"

    def test_a_value_that_fits_no_field_is_kept_as_an_attribute(self) -> None:
        lead = PlatformLead("sub-2", None, {"email": "ada@example.com", "company_size": "a few dozen"})
        prepared = prepare_platform_lead("typeform", lead)
        assert prepared.payload.company_size is None
        assert prepared.payload.attributes["company_size"] == "a few dozen"

    def test_a_platform_lead_id_alone_identifies_a_lead(self) -> None:
        prepared = prepare_platform_lead(
            "google-ads", PlatformLead("gclid-lead-3", "f", {"first_name": "Ada"})
        )
        assert prepared.payload.email is None
        assert prepared.idempotency_key == "google-ads:gclid-lead-3"

    def test_a_body_digest_is_no_identity(self) -> None:
        with pytest.raises(WebhookPayloadInvalid) as refused:
            prepare_platform_lead("unbounce", PlatformLead("f00d", None, {"first_name": "Ada"}))
        assert refused.value.extensions["reason"] == "no_contact_point"

    def test_a_field_map_names_a_field_the_provider_did_not_know(self) -> None:
        lead = PlatformLead("sub-4", None, {"contact_address": "ada@example.com"})
        prepared = prepare_platform_lead("unbounce", lead, field_map={"contact_address": "email"})
        assert prepared.payload.email == "ada@example.com"
