"""Identity and normalization of incoming fields: pure functions."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.ingest.activities import activity_properties
from services.ingest.identity import company_domain, match_key
from services.ingest.normalize import (
    map_fields,
    normalize_country,
    normalize_phone,
    split_name,
    to_ingested_payload,
    utm_from_url,
)
from services.ingest.schemas import ActivityCreate, FormSubmissionCreate

NOW = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)


class TestMatchKey:
    @pytest.mark.parametrize(
        "email",
        ["ada.lovelace@gmail.com", "AdaLovelace+promo@gmail.com", " a.d.a.lovelace@GoogleMail.com "],
    )
    def test_gmail_dots_and_plus_tags_are_one_inbox(self, email: str) -> None:
        assert match_key(email) in {"adalovelace@gmail.com"}

    def test_dots_matter_outside_gmail(self) -> None:
        assert match_key("ada.lovelace@example.com") != match_key("adalovelace@example.com")

    def test_plus_tags_are_dropped_where_the_provider_ignores_them(self) -> None:
        assert match_key("ada+news@outlook.com") == "ada@outlook.com"
        assert match_key("ada+news@example.com") == "ada+news@example.com"

    @given(st.emails())
    def test_match_key_is_idempotent(self, email: str) -> None:
        assert match_key(match_key(email)) == match_key(email)


class TestCompanyDomain:
    def test_work_address_gives_its_domain(self) -> None:
        assert company_domain("ada@Analytical.example") == "analytical.example"

    @pytest.mark.parametrize("email", ["ada@gmail.com", "ada@yahoo.co.uk", "bot@mailinator.com"])
    def test_free_mail_and_disposable_give_none(self, email: str) -> None:
        assert company_domain(email) is None


class TestFields:
    def test_names_are_split_sensibly(self) -> None:
        assert split_name("Ada  Lovelace") == ("Ada", "Lovelace")
        assert split_name("Lovelace, Ada") == ("Ada", "Lovelace")
        assert split_name("Ada") == ("Ada", None)
        assert split_name("Ada King Lovelace") == ("Ada", "King Lovelace")

    @pytest.mark.parametrize(
        ("given_country", "iso"),
        [("gb", "GB"), ("United Kingdom", "GB"), ("USA", "US"), ("deu", "DE"), ("Narnia", "Narnia")],
    )
    def test_countries_become_iso_codes(self, given_country: str, iso: str) -> None:
        assert normalize_country(given_country) == iso

    def test_phones_lose_punctuation_and_keep_the_international_prefix(self) -> None:
        assert normalize_phone("+44 (20) 7946-0958") == "+442079460958"
        assert normalize_phone("0044 20 7946 0958") == "+442079460958"

    def test_national_numbers_take_the_leads_country(self) -> None:
        assert normalize_phone("020 7946 0958", "GB") == "+442079460958"
        assert normalize_phone("(415) 555-0132", "US") == "+14155550132"
        assert normalize_phone("ext. 12", None) == "12"

    def test_utm_parameters_come_from_the_page_address(self) -> None:
        url = "https://example.com/demo?utm_source=google&utm_campaign=q4&ref=x"
        assert utm_from_url(url) == {"source": "google", "campaign": "q4"}

    def test_field_map_renames_and_hidden_utm_fields_become_tags(self) -> None:
        fields = map_fields(
            {"E-mail": "ada@example.com", "Name": "Ada Lovelace", "src": "linkedin", "plan": "pro"},
            {"E-mail": "email", "Name": "full_name"},
            {"src": "source"},
        )
        assert fields == {
            "email": "ada@example.com",
            "first_name": "Ada",
            "last_name": "Lovelace",
            "utm_source": "linkedin",
            "plan": "pro",
        }


class TestPayload:
    def test_sent_tags_win_over_the_page_address_and_the_rest_are_attributes(self) -> None:
        submission = FormSubmissionCreate.model_validate(
            {
                "email": " Ada@Analytical.Example ",
                "utm_source": "newsletter",
                "page_url": "https://x.example/?utm_source=google&utm_medium=cpc",
                "hutk": "v-1",
                "plan": "pro",
            }
        )
        payload = to_ingested_payload("demo-request", submission, submitted_at=NOW, is_hand_raiser=True)
        assert payload.email == "ada@analytical.example"
        assert payload.utm == {"source": "newsletter", "medium": "cpc"}
        assert payload.visitor_id == "v-1"
        assert payload.is_hand_raiser
        assert payload.attributes["company_domain"] == "analytical.example"
        assert payload.attributes["plan"] == "pro"

    def test_routing_fields_are_first_class_and_languages_compare_by_their_primary_tag(self) -> None:
        submission = FormSubmissionCreate.model_validate(
            {
                "email": "ada@analytical.example",
                "language": "pt_BR",
                "product_interest": "Analytics",
                "state": "SP",
            }
        )
        payload = to_ingested_payload("demo-request", submission, submitted_at=NOW)
        assert (payload.language, payload.product_interest, payload.state) == ("pt", "Analytics", "SP")
        assert not {"language", "product_interest", "state"} & payload.attributes.keys()


class TestActivityProperties:
    def test_a_pricing_page_visit_is_a_page_view_of_pricing(self) -> None:
        kind, properties = activity_properties(
            ActivityCreate(
                type="pricing_page_view", visitor_id="v", properties={"plan": "pro", "annual": True}
            )
        )
        assert kind == "page_view"
        assert properties == {"plan": "pro", "annual": "true", "page_path": "/pricing"}

    def test_the_url_gives_the_path_and_the_campaign(self) -> None:
        kind, properties = activity_properties(
            ActivityCreate(
                type="page_view", email="a@b.example", url="https://x.example/docs?utm_campaign=q4"
            )
        )
        assert kind == "page_view"
        assert properties["page_path"] == "/docs"
        assert properties["utm.campaign"] == "q4"
