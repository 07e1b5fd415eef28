"""Field maps read values written for another system, and a lead is known by email, phone or
platform lead id: pure functions."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.ingest.identity import NoContactPoint, lead_identity
from services.ingest.normalize import map_fields, range_number, transform_value
from services.ingest.schemas import ValueTransform
from shared.contracts import LeadIngestedPayload, utc_now


class TestValueTransforms:
    @pytest.mark.parametrize(("posted", "consent"), [("1", False), ("0", True), ("on", False), ("no", True)])
    def test_an_opt_out_inverts_into_consent(self, posted: str, consent: bool) -> None:
        fields = map_fields(
            {"emailOptOut": posted},
            {"emailOptOut": "consent"},
            {},
            {"emailOptOut": ValueTransform(invert=True)},
        )
        assert fields == {"consent": consent}

    def test_a_value_table_comes_first(self) -> None:
        transform = ValueTransform(values={"Opted out": "1"}, invert=True)
        assert transform_value("Opted out", transform) is False

    def test_a_value_no_step_can_read_passes_unchanged(self) -> None:
        assert transform_value("maybe", ValueTransform(invert=True, number_range="midpoint")) == "maybe"

    @pytest.mark.parametrize(
        ("posted", "midpoint", "lower"),
        [
            ("50-200", 125, 50),
            ("1,000 - 5,000", 3000, 1000),
            ("10 to 49", 29, 10),
            ("1000+", 1000, 1000),
            ("7", 7, 7),
        ],
    )
    def test_a_range_is_one_number(self, posted: str, midpoint: int, lower: int) -> None:
        assert (range_number(posted, "midpoint"), range_number(posted, "lower")) == (midpoint, lower)

    @given(st.integers(0, 10**6), st.integers(0, 10**6))
    def test_the_midpoint_lies_within_the_range(self, low: int, span: int) -> None:
        value = range_number(f"{low}-{low + span}", "midpoint")
        assert value is not None
        assert low <= value <= low + span


def _payload(**fields: str) -> LeadIngestedPayload:
    return LeadIngestedPayload(source=fields.pop("source", "form"), submitted_at=utc_now(), **fields)


class TestLeadIdentity:
    def test_an_email_wins(self) -> None:
        assert (
            lead_identity(_payload(email="A.da@GoogleMail.com", phone="+442079460958")).match_key
            == "ada@gmail.com"
        )

    def test_a_phone_alone_is_an_identity(self) -> None:
        who = lead_identity(_payload(phone="+442079460958"))
        assert (who.match_key, who.email, who.phone) == ("tel:+442079460958", None, "+442079460958")

    def test_a_platform_lead_id_alone_is_an_identity(self) -> None:
        assert lead_identity(_payload(source="google-ads", external_id="L-9")).match_key == "google-ads:L-9"

    def test_nothing_at_all_is_no_lead(self) -> None:
        with pytest.raises(NoContactPoint):
            lead_identity(_payload(first_name="Nobody"))
